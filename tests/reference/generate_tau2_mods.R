#!/usr/bin/env Rscript
## Reference values of tau^2 with moderators, for tests/test_tau2_mods.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_tau2_mods.R tests/reference/tau2_mods.json
##
## Needs R with metafor (>= 3.8) and jsonlite (see tests/reference/README.md).
## For every tau^2 estimator metafor allows with moderators, fits
##   rma(yi, vi, mods = ~ x, method = m, control = RMA_CONTROL)
## on three datasets (BCG risk ratios with absolute latitude; two seeded random
## ones) and writes tau^2 and its standard error. Every input number is written
## into the JSON ("%.17g" round-trips doubles; NA becomes null), so the Python
## test needs neither R nor R's random-number generator.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/tau2_mods.json"

## Fisher scoring (ML, REML, EB) stops when tau^2 changes by less than 1e-12;
## the root finder of PM and PMM uses uniroot(tol = 1e-12); tau2.max only
## brackets that root search and is far above every tau^2 here.
RMA_CONTROL <- list(tol = 1e-12, maxiter = 10000L, threshold = 1e-12, tau2.max = 1e6)
METHODS <- c("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")

fmt <- function(v) if (is.null(v) || is.na(v)) NA_character_ else sprintf("%.17g", v)
num <- function(v) structure(if (is.null(v) || is.na(v)) "null" else fmt(v), class = "json")
vec <- function(x) structure(paste0("[", paste(vapply(x, fmt, ""), collapse = ","), "]"),
                             class = "json")

set.seed(20261130, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets <- list(
  list(name = "bcg_ablat", yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi),
       x = as.numeric(bcg$ablat)),
  local({
    k <- 12L
    x <- round(runif(k, 0, 10), 2)
    vi <- round(runif(k, 0.02, 0.4), 4)
    yi <- round(0.2 + 0.05 * x + rnorm(k, 0, sqrt(vi + 0.05)), 4)
    list(name = "random_continuous", yi = yi, vi = vi, x = x)
  }),
  local({
    k <- 20L
    x <- rep(c(0, 1), length.out = k)
    vi <- round(rchisq(k, 4) / 40, 4) + 0.01
    yi <- round(-0.3 + 0.4 * x + rnorm(k, 0, sqrt(vi + 0.1)), 4)
    list(name = "random_binary", yi = yi, vi = vi, x = x)
  })
)

cases <- list()
not_generated <- list()
for (d in datasets) {
  for (m in METHODS) {
    fit <- tryCatch(
      rma(d$yi, d$vi, mods = ~ d$x, method = m, control = RMA_CONTROL),
      error = function(e) e
    )
    id <- paste(d$name, m, sep = "/")
    if (inherits(fit, "error")) {
      not_generated[[length(not_generated) + 1L]] <- list(id = id, reason = conditionMessage(fit))
      next
    }
    cases[[length(cases) + 1L]] <- list(
      id = id, dataset = d$name, method = m,
      tau2 = num(fit$tau2), se = num(fit$se.tau2)
    )
  }
}

out <- list(
  description = paste(
    "tau^2 and its SE from metafor's rma(yi, vi, mods = ~ x, method = m);",
    "design matrix = intercept and x"
  ),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated = format(Sys.Date()),
  rng_kind = RNGkind(),
  control = list(tol = num(RMA_CONTROL$tol), maxiter = RMA_CONTROL$maxiter,
                 threshold = num(RMA_CONTROL$threshold), tau2_max = num(RMA_CONTROL$tau2.max)),
  datasets = lapply(datasets, function(d) list(name = d$name, yi = vec(d$yi), vi = vec(d$vi),
                                               x = vec(d$x))),
  cases = cases,
  not_generated = not_generated
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE), out_path)
message("wrote ", length(cases), " cases to ", out_path)
