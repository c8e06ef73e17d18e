#!/usr/bin/env Rscript
## Reference values of mixed-effects meta-regression, for tests/test_meta_regression.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_metafor_regression.R tests/reference/metafor_regression.json
##
## Needs R with metafor (>= 3.8), metadat and jsonlite (see tests/reference/README.md).
## Fits rma(yi, vi, mods = <formula>, data = d, method = m, test = t) on public metadat
## datasets (k from 6 to 56) and seeded edge cases (k = p + 1, tau^2 = 0, one huge weight),
## with continuous and categorical moderators, and writes every field of the fit, predict()
## at new moderator values, exact permutest() cases and common-tau^2 subgroup models. Every
## input number is written ("%.17g" round-trips doubles), so the test needs no R.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_regression.json"

RMA_CONTROL <- list(tol = 1e-12, maxiter = 10000L, threshold = 1e-12, tau2.max = 1e6)

fmt <- function(v) if (is.null(v) || length(v) == 0L || is.na(v)) "null" else sprintf("%.17g", v)
num <- function(v) structure(fmt(v), class = "json")
vec <- function(x) structure(paste0("[", paste(vapply(as.numeric(x), fmt, ""), collapse = ","), "]"),
                             class = "json")
mat <- function(m) structure(paste0("[", paste(apply(m, 1, function(r) vec(r)), collapse = ","), "]"),
                             class = "json")
column <- function(x) if (is.numeric(x)) vec(x) else as.character(x)

set.seed(20261130, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
raud <- dat.raudenbush1985
hart <- escalc("OR", ai = x1i, n1i = n1i, ci = x2i, n2i = n2i, data = dat.hart1999)
molloy <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
bd <- dat.bangertdrowns2004
bd <- bd[!is.na(bd$length) & !is.na(bd$grade), ]
bd$gradef <- as.character(bd$grade)
konst <- dat.konstantopoulos2011

seeded <- function(k, x, vi, tau2, beta) {
  yi <- round(beta[1] + beta[2] * x + rnorm(k, 0, sqrt(vi + tau2)), 4)
  data.frame(yi = yi, vi = vi, x = x)
}
k_p1 <- seeded(3L, c(1, 2, 4), c(0.1, 0.2, 0.15), 0.1, c(0.2, 0.1))
homog <- data.frame(x = c(1, 2, 3, 4, 5, 6, 7, 8), vi = rep(0.5, 8))
homog$yi <- c(0.10, 0.12, 0.11, 0.14, 0.13, 0.16, 0.15, 0.17)
huge <- seeded(10L, round(runif(10L, 0, 5), 2), round(runif(10L, 0.05, 0.3), 4), 0.05, c(0, 0.1))
huge$vi[4] <- 1e-6
binary8 <- seeded(8L, rep(c(0, 1), 4), round(runif(8L, 0.05, 0.3), 4), 0.05, c(0, 0.3))

DATA <- list(
  bcg = list(d = bcg, cols = c("ablat", "year", "alloc")),
  raudenbush1985 = list(d = raud, cols = c("weeks", "setting", "tester")),
  hart1999 = list(d = hart, cols = c("year", "compgrp")),
  molloy2014 = list(d = molloy, cols = c("meanage", "quality")),
  bangertdrowns2004 = list(d = bd, cols = c("length", "gradef")),
  konstantopoulos2011 = list(d = konst, cols = c("year")),
  seeded_k_p1 = list(d = k_p1, cols = c("x")),
  seeded_tau2_zero = list(d = homog, cols = c("x")),
  seeded_huge_weight = list(d = huge, cols = c("x")),
  seeded_binary8 = list(d = binary8, cols = c("x"))
)

## data set, formula, methods, tests, new data for predict (list of columns or NULL)
CASES <- list(
  list("bcg", "~ ablat", c("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM"),
       c("z", "t", "knha", "adhoc"), list(ablat = c(10, 33, 55))),
  list("bcg", "~ ablat + alloc", c("REML", "DL", "ML"), c("z", "knha"),
       list(ablat = c(20, 40), alloc = c("random", "systematic"))),
  list("bcg", "~ 0 + alloc", c("REML"), c("z", "t"), NULL),
  list("bcg", "~ ablat + year", c("REML", "PM"), c("z", "adhoc"), list(ablat = 30, year = 1960)),
  list("raudenbush1985", "~ weeks", c("REML", "ML", "DL", "SJ"), c("z", "knha"),
       list(weeks = c(0, 1, 3))),
  list("raudenbush1985", "~ setting + tester", c("REML", "EB"), c("z", "t"), NULL),
  list("hart1999", "~ year", c("REML", "DL", "EE"), c("z", "knha"), list(year = 1995)),
  list("hart1999", "~ compgrp", c("REML"), c("z"), NULL),
  list("molloy2014", "~ meanage + quality", c("REML", "HE"), c("z", "knha"),
       list(meanage = c(40, 60), quality = c(5, 7))),
  list("bangertdrowns2004", "~ length + gradef", c("REML", "DL"), c("z", "knha"), NULL),
  list("bangertdrowns2004", "~ length", c("REML", "ML", "PM"), c("z", "t"), list(length = c(2, 20))),
  list("konstantopoulos2011", "~ year", c("REML", "DL"), c("z", "knha"), list(year = 1990)),
  list("seeded_k_p1", "~ x", c("REML", "DL", "EE"), c("z", "knha"), list(x = 3)),
  list("seeded_tau2_zero", "~ x", c("REML", "DL", "ML", "PM"), c("z", "knha", "adhoc"), list(x = 4.5)),
  list("seeded_huge_weight", "~ x", c("REML", "DL", "ML", "SJ"), c("z", "knha"), list(x = 2)),
  list("seeded_binary8", "~ x", c("REML", "DL"), c("z", "knha"), list(x = c(0, 1)))
)

model_mods <- function(formula, d, newdata) {
  ## the rows of model.matrix for the new data, without the intercept column (as predict() wants)
  tt <- delete.response(terms(as.formula(formula)))
  nd <- as.data.frame(newdata, stringsAsFactors = FALSE)
  for (col in names(nd)) if (is.character(d[[col]])) nd[[col]] <- factor(nd[[col]], levels = sort(unique(d[[col]])))
  mm <- model.matrix(tt, nd)
  mm[, colnames(mm) != "(Intercept)", drop = FALSE]
}

fit_json <- function(fit) {
  out <- list(
    term = structure(toJSON(rownames(fit$beta)), class = "json"),
    coef = vec(fit$beta), se = vec(fit$se), statistic = vec(fit$zval), pvalue = vec(fit$pval),
    ci_low = vec(fit$ci.lb), ci_high = vec(fit$ci.ub), vcov = mat(fit$vb),
    qm = num(fit$QM), qm_df = num(fit$QMdf[1]), qm_df2 = num(fit$QMdf[2]), qm_pvalue = num(fit$QMp),
    qe = num(fit$QE), qe_df = num(fit$k - fit$p), qe_pvalue = num(fit$QEp),
    tau2 = num(fit$tau2), tau2_se = num(fit$se.tau2), i2 = num(fit$I2), h2 = num(fit$H2),
    r2 = num(if (is.null(fit$R2)) NA else fit$R2), ddf = num(fit$ddf[1]), k = num(fit$k), p = num(fit$p)
  )
  out
}

cases <- list()
for (cs in CASES) {
  dd <- DATA[[cs[[1]]]]
  d <- dd$d
  for (m in cs[[3]]) for (tst in cs[[4]]) {
    fit <- rma(yi, vi, mods = as.formula(cs[[2]]), data = d, method = m, test = tst,
               control = RMA_CONTROL)
    case <- list(dataset = cs[[1]], formula = cs[[2]], method = m, test = tst,
                 yi = vec(d$yi), vi = vec(d$vi),
                 data = lapply(setNames(dd$cols, dd$cols), function(c) column(d[[c]])),
                 fit = fit_json(fit))
    if (!is.null(cs[[5]])) {
      nm <- model_mods(cs[[2]], d, cs[[5]])
      pr <- predict(fit, newmods = nm)
      case$newdata <- lapply(cs[[5]], column)
      case$predict <- list(pred = vec(pr$pred), se = vec(pr$se), ci_low = vec(pr$ci.lb),
                           ci_high = vec(pr$ci.ub), pi_low = vec(pr$pi.lb), pi_high = vec(pr$pi.ub))
    }
    cases[[length(cases) + 1L]] <- case
  }
}

## exact permutation tests (the number of distinct permutations is at most iter)
PERM <- list(
  list("hart1999", "~ year", "REML", "z"),
  list("hart1999", "~ year", "DL", "knha"),
  list("seeded_binary8", "~ x", "REML", "z"),
  list("seeded_binary8", "~ x", "DL", "t")
)
perms <- list()
for (cs in PERM) {
  dd <- DATA[[cs[[1]]]]
  d <- dd$d
  fit <- rma(yi, vi, mods = as.formula(cs[[2]]), data = d, method = cs[[3]], test = cs[[4]],
             control = RMA_CONTROL)
  pt <- permutest(fit, iter = 1000, progbar = FALSE)
  perms[[length(perms) + 1L]] <- list(
    dataset = cs[[1]], formula = cs[[2]], method = cs[[3]], test = cs[[4]],
    yi = vec(d$yi), vi = vec(d$vi),
    data = lapply(setNames(dd$cols, dd$cols), function(c) column(d[[c]])),
    n = num(nrow(pt$zval.perm)), pvalue = vec(pt$pval), qm_pvalue = num(pt$QMp))
}

## subgroups with a common tau^2: mods = ~ factor(group) (QM) and ~ 0 + factor(group) (estimates)
SUB <- list(list("bcg", "alloc", "REML", "z"), list("bcg", "alloc", "DL", "knha"),
            list("raudenbush1985", "setting", "REML", "z"))
subs <- list()
for (cs in SUB) {
  d <- DATA[[cs[[1]]]]$d
  g <- as.character(d[[cs[[2]]]])
  f1 <- rma(d$yi, d$vi, mods = ~ factor(g), method = cs[[3]], test = cs[[4]], control = RMA_CONTROL)
  f0 <- rma(d$yi, d$vi, mods = ~ 0 + factor(g), method = cs[[3]], test = cs[[4]], control = RMA_CONTROL)
  subs[[length(subs) + 1L]] <- list(
    dataset = cs[[1]], method = cs[[3]], test = cs[[4]], yi = vec(d$yi), vi = vec(d$vi),
    groups = g, levels = sort(unique(g)), estimate = vec(f0$beta), se = vec(f0$se),
    ci_low = vec(f0$ci.lb), ci_high = vec(f0$ci.ub), tau2 = num(f1$tau2),
    qm = num(f1$QM), qm_df = num(f1$QMdf[1]), qm_pvalue = num(f1$QMp))
}

out <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  control = RMA_CONTROL,
  cases = cases, permutest = perms, subgroups = subs
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = FALSE, null = "null", na = "null",
                  json_verbatim = TRUE), out_path)
cat("wrote", length(cases), "cases,", length(perms), "permutation tests and", length(subs),
    "subgroup models to", out_path, "\n")
