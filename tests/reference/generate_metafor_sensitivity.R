#!/usr/bin/env Rscript
## Reference values of the sensitivity analyses, for tests/test_sensitivity.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_metafor_sensitivity.R tests/reference/metafor_sensitivity.json
##
## Needs R with metafor (>= 3.8), metadat and jsonlite (see tests/reference/README.md).
## For public datasets of metadat (k from 6 to 37) and seeded edge cases (k = 3, a study
## with a huge weight, tau^2 = 0), fits rma(yi, vi, method, test, control = RMA_CONTROL)
## and writes leave1out(), cumul() as given and in order of increasing variance
## (cumul(order = vi)) and influence() (every column and the "inf" flag); for 2x2 data
## also leave1out() and cumul() of rma.mh (OR, RR, RD) and rma.peto. Every input number
## is written into the JSON ("%.17g" round-trips doubles; NA becomes null), so the Python
## test needs neither R nor R's random-number generator.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_sensitivity.json"

RMA_CONTROL <- list(tol = 1e-12, maxiter = 10000L, threshold = 1e-12)
FITS <- list(c("REML", "z"), c("DL", "z"), c("EE", "z"), c("REML", "knha"), c("DL", "t"),
             c("ML", "adhoc"))

fmt <- function(v) if (is.null(v) || is.na(v)) NA_character_ else sprintf("%.17g", v)
num <- function(v) structure(if (is.null(v) || is.na(v)) "null" else fmt(v), class = "json")
vec <- function(x) structure(paste0("[", paste(ifelse(is.na(x), "null", vapply(x, function(z)
  if (is.na(z)) "null" else fmt(z), "")), collapse = ","), "]"), class = "json")
table_of <- function(lst, cols) {
  out <- list()
  for (nm in names(cols)) {
    v <- lst[[cols[[nm]]]]
    if (!is.null(v)) out[[nm]] <- vec(as.numeric(v))
  }
  out$slab <- as.character(lst$slab)
  out
}
REFIT_COLS <- list(estimate = "estimate", se = "se", statistic = "zval", pvalue = "pval",
                   ci_low = "ci.lb", ci_high = "ci.ub", q = "Q", q_pvalue = "Qp",
                   tau2 = "tau2", i2 = "I2", h2 = "H2")
## t tests name the statistic tval; cumul() names the p-values pvals
with_stat <- function(l) {
  if (is.null(l[["zval"]])) l[["zval"]] <- l[["tval"]]
  if (is.null(l[["pval"]])) l[["pval"]] <- l[["pvals"]]
  l
}

set.seed(20261130, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

esc <- function(...) { e <- escalc(...); list(yi = as.numeric(e$yi), vi = as.numeric(e$vi)) }
bcg <- dat.bcg
hine <- dat.hine1989
li <- dat.li2007
uni <- list(
  c(list(name = "bcg_rr", slab = bcg$author), esc("RR", ai = bcg$tpos, bi = bcg$tneg,
    ci = bcg$cpos, di = bcg$cneg)),
  list(name = "hackshaw1998_or", slab = as.character(dat.hackshaw1998$study),
       yi = dat.hackshaw1998$yi, vi = dat.hackshaw1998$vi),
  c(list(name = "pritz1997_plo", slab = as.character(dat.pritz1997$study)),
    esc("PLO", xi = dat.pritz1997$xi, ni = dat.pritz1997$ni)),
  c(list(name = "molloy2014_zcor", slab = dat.molloy2014$authors),
    esc("ZCOR", ri = dat.molloy2014$ri, ni = dat.molloy2014$ni)),
  c(list(name = "normand1999_md", slab = dat.normand1999$source),
    esc("MD", m1i = dat.normand1999$m1i, sd1i = dat.normand1999$sd1i, n1i = dat.normand1999$n1i,
        m2i = dat.normand1999$m2i, sd2i = dat.normand1999$sd2i, n2i = dat.normand1999$n2i)),
  list(name = "raudenbush1985_smd", slab = as.character(dat.raudenbush1985$study),
       yi = as.numeric(dat.raudenbush1985$yi), vi = as.numeric(dat.raudenbush1985$vi)),
  c(list(name = "hine1989_rd", slab = hine$source),
    esc("RD", ai = hine$ai, n1i = hine$n1i, ci = hine$ci, n2i = hine$n2i)),
  local({
    vi <- round(runif(3, 0.02, 0.2), 4)
    list(name = "seeded_k3", slab = paste("S", 1:3), vi = vi,
         yi = round(rnorm(3, 0.3, sqrt(vi + 0.05)), 4))
  }),
  local({
    k <- 8L
    vi <- round(runif(k, 0.05, 0.3), 4)
    vi[5] <- 0.0004
    list(name = "seeded_huge_weight", slab = paste("S", 1:k), vi = vi,
         yi = round(rnorm(k, 0.2, sqrt(vi + 0.04)), 4))
  }),
  local({
    k <- 10L
    vi <- round(runif(k, 0.05, 0.3), 4)
    list(name = "seeded_tau2_zero", slab = paste("S", 1:k), vi = vi,
         yi = round(0.1 + 0.2 * sqrt(vi) * seq(-1, 1, length.out = k), 4))
  })
)

## unique study labels, as metafor makes them (make.unique), so the tables' rows match
uni <- lapply(uni, function(d) { d$slab <- make.unique(as.character(d$slab)); d })

cases <- list()
not_generated <- list()
for (d in uni) {
  for (ft in FITS) {
    id <- paste(d$name, ft[1], ft[2], sep = "/")
    fit <- tryCatch(rma(d$yi, d$vi, method = ft[1], test = ft[2], slab = d$slab,
                        control = RMA_CONTROL), error = function(e) e)
    if (inherits(fit, "error")) {
      not_generated[[length(not_generated) + 1L]] <- list(id = id, reason = conditionMessage(fit))
      next
    }
    l1o <- with_stat(suppressWarnings(leave1out(fit)))
    cum <- with_stat(suppressWarnings(cumul(fit)))
    cumv <- with_stat(suppressWarnings(cumul(fit, order = d$vi)))
    inf <- suppressWarnings(influence(fit))
    cases[[length(cases) + 1L]] <- list(
      id = id, dataset = d$name, kind = "uni", method = ft[1], test = ft[2],
      estimate = num(fit$beta), tau2 = num(fit$tau2),
      leave1out = table_of(l1o, REFIT_COLS),
      cumul = table_of(cum, REFIT_COLS),
      cumul_precision = table_of(cumv, REFIT_COLS),
      influence = list(
        rstudent = vec(inf$inf$rstudent), dffits = vec(inf$inf$dffits),
        cook_d = vec(inf$inf$cook.d), cov_r = vec(inf$inf$cov.r),
        tau2_del = vec(inf$inf$tau2.del), q_del = vec(inf$inf$QE.del),
        hat = vec(inf$inf$hat), weight = vec(inf$inf$weight),
        dfbetas = vec(inf$dfbs[[1]]), influential = inf$is.infl
      )
    )
  }
}

two_by_two <- list(
  list(name = "bcg", slab = bcg$author, ai = bcg$tpos, n1i = bcg$tpos + bcg$tneg,
       ci = bcg$cpos, n2i = bcg$cpos + bcg$cneg),
  list(name = "hine1989", slab = hine$source, ai = hine$ai, n1i = hine$n1i, ci = hine$ci,
       n2i = hine$n2i),
  list(name = "li2007", slab = paste(li$study, li$year), ai = li$ai, n1i = li$n1i, ci = li$ci,
       n2i = li$n2i)
)
two_by_two <- lapply(two_by_two, function(d) { d$slab <- make.unique(as.character(d$slab)); d })
for (d in two_by_two) {
  for (m in c("OR", "RR", "RD", "PETO")) {
    id <- paste(d$name, m, sep = "/")
    fit <- tryCatch(
      if (m == "PETO") rma.peto(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, slab = d$slab)
      else rma.mh(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, measure = m, slab = d$slab),
      error = function(e) e)
    if (inherits(fit, "error")) {
      not_generated[[length(not_generated) + 1L]] <- list(id = id, reason = conditionMessage(fit))
      next
    }
    l1o <- with_stat(suppressWarnings(leave1out(fit)))
    cum <- with_stat(suppressWarnings(cumul(fit)))
    cases[[length(cases) + 1L]] <- list(
      id = id, dataset = d$name, kind = if (m == "PETO") "peto" else "mh", measure = m,
      estimate = num(fit$beta),
      leave1out = table_of(l1o, REFIT_COLS), cumul = table_of(cum, REFIT_COLS)
    )
  }
}

out <- list(
  description = paste(
    "leave1out, cumul (as given and order = vi) and influence of rma(yi, vi, method, test);",
    "leave1out and cumul of rma.mh and rma.peto"
  ),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated = format(Sys.Date()),
  rng_kind = RNGkind(),
  control = list(tol = num(RMA_CONTROL$tol), maxiter = RMA_CONTROL$maxiter,
                 threshold = num(RMA_CONTROL$threshold)),
  datasets = c(
    lapply(uni, function(d) list(name = d$name, kind = "uni", slab = as.character(d$slab),
                                 yi = vec(d$yi), vi = vec(d$vi))),
    lapply(two_by_two, function(d) list(name = d$name, kind = "2x2", slab = as.character(d$slab),
                                        ai = vec(d$ai), n1i = vec(d$n1i), ci = vec(d$ci),
                                        n2i = vec(d$n2i)))
  ),
  cases = cases,
  not_generated = not_generated
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE), out_path)
message("wrote ", length(cases), " cases to ", out_path)
