#!/usr/bin/env Rscript
## Reference values of the GOSH analysis, for tests/test_gosh.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_metafor_gosh.R tests/reference/metafor_gosh.json
##
## Needs R with metafor (>= 3.8), metadat and jsonlite (see tests/reference/README.md).
## For the first 10 studies of dat.bcg (log risk ratios) and a seeded k = 6 dataset, fits
## rma(yi, vi, method, control = RMA_CONTROL) and writes gosh() over all 2^k - 1 subsets:
## the inclusion matrix and every column of res$res (k, QE, I2, H2, tau2, estimate).
## Every input number is written into the JSON ("%.17g" round-trips doubles; NA becomes
## null), so the Python test needs neither R nor R's random-number generator.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_gosh.json"

RMA_CONTROL <- list(tol = 1e-12, maxiter = 10000L, threshold = 1e-12)
METHODS <- c("REML", "DL", "EE", "ML")

fmt <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
vec <- function(x) paste0("[", paste(fmt(as.numeric(x)), collapse = ","), "]")

datasets <- list()
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets[["bcg10"]] <- list(yi = as.numeric(bcg$yi[1:10]), vi = as.numeric(bcg$vi[1:10]))
set.seed(20261130)
datasets[["seeded6"]] <- list(yi = rnorm(6, 0.3, 0.4), vi = runif(6, 0.01, 0.2))

cases <- character(0)
for (name in names(datasets)) {
  d <- datasets[[name]]
  for (method in METHODS) {
    fit <- rma(d$yi, d$vi, method = method, control = RMA_CONTROL)
    g <- gosh(fit, subsets = 2^length(d$yi), progbar = FALSE)
    r <- g$res
    incl <- apply(g$incl, 1, function(row) paste0("[", paste(ifelse(row, "true", "false"), collapse = ","), "]"))
    cols <- vapply(c("k", "QE", "I2", "H2", "tau2", "estimate"), function(cn)
      sprintf("\"%s\": %s", cn, vec(r[[cn]])), character(1))
    cases <- c(cases, sprintf(
      "{\"dataset\": \"%s\", \"method\": \"%s\", \"yi\": %s, \"vi\": %s, \"incl\": [%s], %s}",
      name, method, vec(d$yi), vec(d$vi), paste(incl, collapse = ","), paste(cols, collapse = ", ")))
  }
}
header <- sprintf("{\"R\": \"%s\", \"metafor\": \"%s\", \"cases\": [\n", R.version.string,
                  as.character(packageVersion("metafor")))
writeLines(paste0(header, paste(cases, collapse = ",\n"), "\n]}"), out_path)
