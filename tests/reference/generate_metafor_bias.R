#!/usr/bin/env Rscript
## Reference values of the small-study and publication-bias methods, for tests/test_bias.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_metafor_bias.R tests/reference/metafor_bias.json
##
## Needs R with metafor (>= 3.8), metadat and jsonlite (see tests/reference/README.md).
## On six metadat datasets (k from 9 to 37) and four seeded ones (k = 3, 5, a study
## with a huge weight, tau^2 = 0, k = 50) writes, for several tau^2 methods and tests,
##   regtest(res, model = "rma", predictor = p)  (sei, vi, ninv, sqrtninv),
##   regtest(res, model = "lm", predictor = p),
##   ranktest(res),
##   trimfill(res, estimator = e, side = s, test = res$test, level = ...)  (L0, R0, Q0 x auto, left, right),
##   fsn(yi, vi, type = t)  (Rosenthal, Orwin, Orwin weighted, Rosenberg),
##   selmodel(res, type = "stepfun", steps = s, alternative = a)  (two step sets, each
##   alternative; REML fits are refitted by ML inside selmodel, EE keeps tau^2 = 0), with
##   optim's BFGS run to reltol 1e-14 so that the optimum is as tight as msc_meta's.
## trimfill passes the fit's test to the refit of the filled data (its default is "z"):
## msc_meta refits the filled data with every option of the original fit.
## Every input number is written into the JSON (max precision; NA becomes null), so
## the Python test needs neither R nor R's random-number generator.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_bias.json"

RMA_CONTROL <- list(tol = 1e-12, maxiter = 10000L, threshold = 1e-12, tau2.max = 1e6)
FITS <- list(c("REML", "z"), c("DL", "knha"), c("EE", "z"), c("ML", "t"), c("PM", "adhoc"))
PREDICTORS <- c("sei", "vi", "ninv", "sqrtninv")

set.seed(20261130, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

ds <- function(name, yi, vi, ni) {
  list(name = name, yi = as.numeric(yi), vi = as.numeric(vi), ni = as.numeric(ni))
}
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
pag <- escalc("PLO", xi = xi, ni = ni, data = dat.pagliaro1992[dat.pagliaro1992$trt == "beta-blockers", ])
egg <- escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
mol <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
nor <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
hack <- dat.hackshaw1998
rau <- dat.raudenbush1985
seeded <- function(name, k, tau2, huge = FALSE) {
  ni <- round(runif(k, 20, 400))
  vi <- round(4 / ni, 6)
  if (huge) { ni[1] <- 50000; vi[1] <- 4 / ni[1] }
  yi <- round(0.3 + rnorm(k, 0, sqrt(vi + tau2)) + 0.8 * sqrt(vi) * (runif(k) < 0.5), 5)
  ds(name, yi, vi, ni)
}
datasets <- list(
  ds("bcg", bcg$yi, bcg$vi, with(dat.bcg, tpos + tneg + cpos + cneg)),
  ds("pagliaro1992_bb", pag$yi, pag$vi, pag$ni),
  ds("egger2001", egg$yi, egg$vi, with(dat.egger2001, n1i + n2i)),
  ds("molloy2014", mol$yi, mol$vi, mol$ni),
  ds("normand1999", nor$yi, nor$vi, with(dat.normand1999, n1i + n2i)),
  ds("hackshaw1998", hack$yi, hack$vi, rep(NA_real_, nrow(hack))),
  ds("raudenbush1985", rau$yi, rau$vi, with(rau, n1i + n2i)),
  seeded("seeded_k3", 3L, 0.05),
  seeded("seeded_k5", 5L, 0.1),
  seeded("seeded_huge_weight", 12L, 0.05, huge = TRUE),
  seeded("seeded_tau2_zero", 15L, 0),
  seeded("seeded_k50", 50L, 0.08)
)

g <- function(expr) tryCatch(suppressWarnings(expr), error = function(e) NULL)
nul <- function(x) if (is.null(x) || length(x) == 0L || is.na(x[1])) NA else unname(x[1])

cases <- list()
add <- function(x) cases[[length(cases) + 1L]] <<- x
for (d in datasets) {
  has_n <- !anyNA(d$ni)
  ni <- if (has_n) d$ni else NULL
  k <- length(d$yi)
  for (f in FITS) {
    res <- g(rma(d$yi, d$vi, ni = ni, method = f[1], test = f[2], control = RMA_CONTROL))
    if (is.null(res)) next
    for (p in PREDICTORS) {
      if (!has_n && p %in% c("ninv", "sqrtninv")) next
      if (k < 3L) next
      for (model in c("rma", "lm")) {
        if (model == "lm" && f[1] != "REML") next
        rt <- g(regtest(res, model = model, predictor = p))
        if (is.null(rt)) next
        add(list(kind = "regtest", dataset = d$name, method = f[1], test = f[2], model = model,
                 predictor = p, statistic = nul(rt$zval), pvalue = nul(rt$pval),
                 df = nul(rt$ddf), est = nul(rt$est), ci_low = nul(rt$ci.lb),
                 ci_high = nul(rt$ci.ub),
                 tau2 = if (model == "rma") nul(rt$fit$tau2) else NA,
                 slope = nul(coef(rt$fit)[2])))
      }
    }
    for (e in c("L0", "R0", "Q0")) {
      for (s in c("auto", "left", "right")) {
        tf <- g(if (s == "auto") trimfill(res, estimator = e, test = f[2], control = RMA_CONTROL)
                else trimfill(res, estimator = e, side = s, test = f[2], control = RMA_CONTROL))
        if (is.null(tf)) next
        add(list(kind = "trimfill", dataset = d$name, method = f[1], test = f[2],
                 estimator = e, side_arg = s, side = tf$side, k0 = tf$k0, se_k0 = tf$se.k0,
                 p_k0 = nul(tf$p.k0), estimate = nul(tf$beta), se = nul(tf$se),
                 ci_low = nul(tf$ci.lb), ci_high = nul(tf$ci.ub), tau2 = nul(tf$tau2),
                 filled_yi = as.numeric(tf$yi[tf$fill]), filled_vi = as.numeric(tf$vi[tf$fill])))
      }
    }
  }
  for (f in list(c("REML", "z"), c("EE", "z"))) {
    res <- g(rma(d$yi, d$vi, method = f[1], test = f[2], control = RMA_CONTROL))
    if (is.null(res)) next
    for (st in list(c(0.025, 1), c(0.05, 0.5, 1))) {
      for (a in c("greater", "less", "two.sided")) {
        sm <- g(selmodel(res, type = "stepfun", steps = st, alternative = a,
                         control = list(optimizer = "BFGS",
                                        optcontrol = list(reltol = 1e-14, maxit = 10000L))))
        if (is.null(sm)) next
        add(list(kind = "selmodel", dataset = d$name, method = f[1], steps = st,
                 alternative = a, estimate = nul(sm$beta), se = nul(sm$se),
                 pvalue = nul(sm$pval), ci_low = nul(sm$ci.lb), ci_high = nul(sm$ci.ub),
                 tau2 = nul(sm$tau2), se_tau2 = nul(sm$se.tau2), delta = as.numeric(sm$delta),
                 se_delta = as.numeric(sm$se.delta), k_per_interval = as.integer(sm$ptable$k),
                 lrt = sm$LRT, lrt_df = sm$LRTdf, lrt_pvalue = sm$LRTp, ll = sm$ll))
      }
    }
  }
  rk <- g(ranktest(d$yi, d$vi))
  if (!is.null(rk)) {
    add(list(kind = "ranktest", dataset = d$name, tau = nul(rk$tau), pvalue = nul(rk$pval)))
  }
  for (t in list(list("Rosenthal", FALSE), list("Orwin", FALSE), list("Orwin", TRUE),
                 list("Rosenberg", FALSE))) {
    fs <- g(fsn(d$yi, d$vi, type = t[[1]], weighted = t[[2]]))
    if (is.null(fs)) next
    add(list(kind = "fsn", dataset = d$name, type = t[[1]], weighted = t[[2]],
             fsnum = fs$fsnum, pvalue = nul(fs$pval), meanes = nul(fs$meanes),
             target = nul(fs$target), alpha = fs$alpha))
  }
  fs <- g(fsn(d$yi, d$vi, type = "Orwin", target = 0.05))
  if (!is.null(fs)) {
    add(list(kind = "fsn", dataset = d$name, type = "Orwin", weighted = FALSE, target_arg = 0.05,
             fsnum = fs$fsnum, pvalue = NA, meanes = nul(fs$meanes), target = nul(fs$target),
             alpha = fs$alpha))
  }
}

out <- list(
  description = "metafor's regtest, ranktest, trimfill, fsn and selmodel on metadat and seeded datasets",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  control = RMA_CONTROL,
  datasets = datasets,
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
           out_path)
cat(sprintf("%d cases written to %s\n", length(cases), out_path))
