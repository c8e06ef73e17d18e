#!/usr/bin/env Rscript
## Seeded randomized reference values from R's metafor for tests/test_metafor_random.py.
##
## Usage (from the repository root):
##   Rscript tests/reference/generate_metafor_random.R tests/reference/metafor_random.json
##
## Needs R with metafor (>= 3.8) and jsonlite (Debian: r-base-core r-cran-metafor
## r-cran-jsonlite). Takes about four minutes on one core.
##
## What it writes (see tests/reference/README.md, "Randomized grid"):
##   datasets  random (yi, vi) sets: k from 2 to 60 (mostly small), sampling
##             variances spanning ratios up to 1e9 (log-uniform), effects and
##             standard errors multiplied by a scale from 1e-6 to 1e8, some with
##             a large common offset (offset / spread from 1e2 to 1e8), tau^2
##             from 0 to 1e4 times the typical variance, some with identical
##             effects or Q < df.
##   rma       every tau^2 method on every dataset, each with one test (z, t,
##             knha, adhoc rotate over datasets and methods) and one level
##             (0.90, 0.95, 0.99), so that every method x test pair has about
##             250 cases: rma() + predict() + confint().
##   tables    random 2x2 table sets with zero cells, double zeros (no events,
##             or only events, in both arms) and all-event arms.
##   mh, peto  rma.mh (OR, RR, RD) and rma.peto on those tables, with random
##             add / to / drop00 / correct / level.
##
## Every input number is in the JSON (tests need no R). Numbers are written
## as the shortest of %.15g/%.16g/%.17g that reads back as the same double;
## null is R's NA; the strings "NaN", "Inf", "-Inf" are non-finite values.
## A case metafor could not compute (an error) is kept, with its message in
## `error` and null values; warnings are kept per case in `r_warnings`.
##
## Convergence. metafor's convergence settings are absolute (in units of
## tau^2), so they are set per dataset from its own scale:
##   * Fisher scoring (ML, REML, EB): fitted twice from metafor's default
##     start; the second fit uses threshold = 1e-13 * (min(vi) + tau2 of the
##     first fit), i.e. relative to the smallest marginal variance, whose weight
##     is the most sensitive to tau^2; where that does not converge in maxiter
##     iterations, threshold = 1e-13 * (vt + tau2), vt being the typical
##     within-study variance of I^2 (the threshold used is in the case);
##   * uniroot (PM, PMM and the Q-profile bounds of confint): tol = 1e-300,
##     so that R's zeroin stops at its relative criterion 2 * eps * |root|;
##   * tau2.max = 1e8 * (sum of squared deviations of yi + max vi), far above
##     any root; a bound that reaches it is flagged (`ub_sign` = ">").
## confint() depends only on the data and the level (not on the method or
## test), so it is run once per dataset and level, on a DL fit, and its
## bounds are stored in every case of that dataset and level (also for EE,
## for which msc_meta reports the Q-profile interval and metafor's confint
## refuses to run).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_random.json"

SEED <- 20261130L
RNGkind("Mersenne-Twister", "Inversion", "Rejection")
set.seed(SEED)

## sizes (the environment variables are for quick trial runs only)
N_DATASETS <- as.integer(Sys.getenv("METAFOR_RANDOM_DATASETS", "1000"))
N_TABLE_SETS <- as.integer(Sys.getenv("METAFOR_RANDOM_TABLE_SETS", "120"))
CASES_PER_TABLE_MEASURE <- 2L

METHODS <- c("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
FISHER <- c("ML", "REML", "EB")
TESTS <- c("z", "t", "knha", "adhoc")
LEVELS <- c(0.95, 0.90, 0.99)
UNIROOT_TOL <- 1e-300
THRESHOLD_REL <- 1e-13
MAXITER <- 10000L

## --------------------------------------------------------------------------
## Numbers
## --------------------------------------------------------------------------
fmt_nums <- function(x) {
  x <- as.numeric(x)
  out <- character(length(x))
  fin <- is.finite(x)
  out[is.na(x) & !is.nan(x)] <- "null"
  out[is.nan(x)] <- "\"NaN\""
  out[!fin & !is.na(x) & x > 0] <- "\"Inf\""
  out[!fin & !is.na(x) & x < 0] <- "\"-Inf\""
  if (any(fin)) {
    xf <- x[fin]
    s <- sprintf("%.17g", xf)
    for (d in c(16L, 15L)) {
      t <- sprintf(paste0("%.", d, "g"), xf)
      ok <- as.numeric(t) == xf
      s[ok] <- t[ok]
    }
    out[fin] <- s
  }
  out
}
json_raw <- function(s) structure(s, class = "json")
num <- function(x) {
  if (is.null(x) || length(x) == 0L) return(json_raw("null"))
  stopifnot(length(x) == 1L)
  json_raw(fmt_nums(x))
}
vec <- function(x) json_raw(paste0("[", paste(fmt_nums(x), collapse = ","), "]"))

## Evaluate expr; collect warnings (muffled); an error becomes a marker.
capture <- function(expr) {
  warns <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(message = conditionMessage(e)), class = "ref_error")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  list(value = value, warnings = unique(warns), failed = inherits(value, "ref_error"))
}

typical_v <- function(vi) {
  w <- 1 / vi
  (length(vi) - 1) / (sum(w) - sum(w^2) / sum(w))
}

## ==========================================================================
## rma: random datasets
## ==========================================================================
draw_k <- function() {
  u <- runif(1)
  if (u < 0.45) sample(2:5, 1) else if (u < 0.75) sample(6:15, 1) else sample(16:60, 1)
}

draw_dataset <- function(i) {
  k <- draw_k()
  ## sampling variances: log-uniform spread with ratio max/min = 10^log10_ratio
  log10_ratio <- if (runif(1) < 0.08) 0 else runif(1, 0, 9)
  base_v <- 10^runif(1, -3, 0)
  e <- runif(k, 0, log10_ratio)
  if (k >= 2L && log10_ratio > 0) e[sample.int(k, 2L)] <- c(0, log10_ratio)
  v <- base_v * 10^e
  v_geo <- exp(mean(log(v)))
  ## true tau^2 relative to the geometric mean of the variances
  tau2_rel <- if (runif(1) < 0.25) 0 else 10^runif(1, -3, 4)
  tau2 <- tau2_rel * v_geo
  mu <- rnorm(1) * sqrt(v_geo + tau2)
  y <- mu + rnorm(k) * sqrt(v + tau2)
  pattern <- "random"
  u <- runif(1)
  if (u < 0.03) {
    y[] <- y[1]
    pattern <- "identical effects"
  } else if (u < 0.09) {
    m <- sum(y / v) / sum(1 / v)
    y <- m + 0.2 * (y - m)
    pattern <- "deviations shrunk by 0.2 (Q < df likely)"
  }
  ## unit of measurement: y * s, v * s^2
  scale <- 10^runif(1, -6, 8)
  y <- y * scale
  v <- v * scale^2
  offset <- 0
  if (runif(1) < 0.2) {
    spread <- sqrt(v_geo + tau2) * scale
    offset <- sample(c(-1, 1), 1) * spread * 10^runif(1, 2, 8)
    y <- y + offset
  }
  ## short inputs: 10 significant digits (the deviations from the offset keep theirs)
  v <- signif(v, 10)
  y <- if (offset == 0) signif(y, 10) else signif(offset, 6) + signif(y - offset, 10)
  list(
    id = sprintf("d%04d", i), k = k, yi = y, vi = v,
    design = list(
      scale = scale, log10_v_ratio = log10_ratio, tau2_over_vgeo = tau2_rel,
      offset = offset, pattern = pattern
    )
  )
}

fit_rma <- function(ds, method, test, level, tau2_max) {
  yi <- ds$yi
  vi <- ds$vi
  vt <- typical_v(vi)
  ctrl <- list(tol = UNIROOT_TOL, maxiter = MAXITER, tau2.max = tau2_max)
  if (!method %in% FISHER) {
    res <- capture(rma(yi, vi, method = method, test = test, level = 100 * level, control = ctrl))
    res$threshold <- NULL
    return(res)
  }
  ## Fisher scoring: a first fit for the size of tau^2, then the threshold
  ## relative to the smallest marginal variance min(vi) + tau^2 (the weight most
  ## sensitive to tau^2); if that does not converge, relative to vt + tau^2.
  first <- capture(rma(yi, vi, method = method, test = test, level = 100 * level,
                       control = c(ctrl, list(threshold = 1e-10 * (vt + var(yi))))))
  t1 <- if (first$failed) 0 else first$value$tau2
  for (ref_v in c(min(vi), vt)) {
    ctrl$threshold <- THRESHOLD_REL * (ref_v + t1)
    res <- capture(rma(yi, vi, method = method, test = test, level = 100 * level, control = ctrl))
    if (!res$failed) break
  }
  res$threshold <- ctrl$threshold
  res
}

## per case (method, test, level)
rma_fields <- c(
  "estimate", "se", "ci_low", "ci_high", "statistic", "pvalue", "df",
  "tau2", "tau2_se", "i2", "h2", "pi_low", "pi_high"
)
## per dataset (Cochran's Q does not depend on the method)
q_fields <- c("q", "q_df", "q_pvalue")
## per dataset and level (the Q-profile interval depends on neither method nor test)
qprofile_fields <- c("tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high", "h2_ci_low", "h2_ci_high")

qprofile <- function(ds, level, tau2_max) {
  res <- capture({
    fit <- rma(ds$yi, ds$vi, method = "DL", level = 100 * level)
    confint(fit, control = list(tol = UNIROOT_TOL, maxiter = MAXITER, tau2.min = 0, tau2.max = tau2_max))
  })
  if (res$failed) {
    return(list(level = num(level), values = vec(rep(NA_real_, 6)), lb_sign = json_raw("null"),
                ub_sign = json_raw("null"), ci_null = json_raw("null"),
                r_warnings = I(res$warnings), error = res$value$message))
  }
  ci <- res$value
  rnd <- ci$random
  list(
    level = num(level),
    values = vec(c(rnd["tau^2", 2:3], rnd["I^2(%)", 2:3], rnd["H^2", 2:3])),
    lb_sign = ci$lb.sign, ub_sign = ci$ub.sign, ci_null = ci$ci.null,
    r_warnings = I(res$warnings), error = json_raw("null")
  )
}

cochran_q <- function(ds) {
  res <- capture(rma(ds$yi, ds$vi, method = "EE"))
  if (res$failed) return(vec(rep(NA_real_, 3)))
  vec(c(res$value$QE, ds$k - 1, res$value$QEp))
}

rma_cases <- list()
datasets <- list()
n_rma_errors <- 0L
t_start <- proc.time()[["elapsed"]]
for (i in seq_len(N_DATASETS)) {
  ds <- draw_dataset(i)
  yi <- ds$yi
  vi <- ds$vi
  k <- ds$k
  tau2_max <- 1e8 * (sum((yi - mean(yi))^2) + max(vi))
  ## one test and one level per method; tests rotate so every method x test pair is covered
  tests <- TESTS[((i + seq_along(METHODS) - 2L) %% 4L) + 1L]
  levels <- LEVELS[sample.int(3L, length(METHODS), replace = TRUE)]
  datasets[[i]] <- list(
    id = ds$id, k = k, yi = vec(yi), vi = vec(vi), vt = num(typical_v(vi)),
    tau2_max = num(tau2_max),
    design = lapply(ds$design, function(x) if (is.numeric(x)) num(x) else x),
    q = cochran_q(ds),
    qprofile = lapply(sort(unique(levels)), function(lv) qprofile(ds, lv, tau2_max))
  )
  for (j in seq_along(METHODS)) {
    method <- METHODS[j]
    test <- tests[j]
    level <- levels[j]
    id <- paste(ds$id, method, sep = "-")
    fr <- fit_rma(ds, method, test, level, tau2_max)
    warns <- fr$warnings
    err <- NULL
    if (fr$failed) {
      err <- fr$value$message
      values <- rep(NA_real_, length(rma_fields))
      n_rma_errors <- n_rma_errors + 1L
    } else {
      fit <- fr$value
      pr <- capture(predict(fit))
      warns <- c(warns, pr$warnings)
      if (method == "EE") {
        pi <- c(pr$value$ci.lb, pr$value$ci.ub)
      } else {
        pi <- c(pr$value$pi.lb, pr$value$pi.ub)
      }
      values <- c(
        fit$b[1], fit$se, fit$ci.lb, fit$ci.ub, fit$zval, fit$pval,
        if (is.na(fit$ddf)) NA else fit$ddf,
        fit$tau2, if (method == "EE") NA else fit$se.tau2, fit$I2, fit$H2, pi
      )
    }
    stopifnot(length(values) == length(rma_fields))
    rma_cases[[length(rma_cases) + 1L]] <- list(
      id = id, method = method, test = test, level = num(level),
      values = vec(values),
      threshold = if (is.null(fr$threshold)) json_raw("null") else num(fr$threshold),
      r_warnings = I(unique(warns)),
      error = if (is.null(err)) json_raw("null") else err
    )
  }
  if (i %% 100L == 0L) {
    message(sprintf("rma: %d datasets, %.0f s", i, proc.time()[["elapsed"]] - t_start))
  }
}

## ==========================================================================
## Mantel-Haenszel and Peto: random 2x2 tables
## ==========================================================================
draw_tables <- function(j) {
  u <- runif(1)
  k <- if (u < 0.2) sample(1:3, 1) else if (u < 0.7) sample(4:10, 1) else sample(11:30, 1)
  n_t <- pmax(1, round(10^runif(k, 0, 3)))
  n_c <- pmax(1, round(n_t * 10^runif(k, -0.5, 0.5)))
  p_c <- plogis(qlogis(10^runif(1, -3, log10(0.95))) + rnorm(k, 0, runif(1, 0, 1.5)))
  log_or <- rnorm(1, 0, 1) + rnorm(k, 0, runif(1, 0, 1))
  p_t <- plogis(qlogis(p_c) + log_or)
  e_t <- rbinom(k, n_t, p_t)
  e_c <- rbinom(k, n_c, p_c)
  ## zero-cell patterns forced into some tables
  for (i in seq_len(k)) {
    u <- runif(1)
    if (u < 0.08) { e_t[i] <- 0; e_c[i] <- 0 }                    # double zero: no events
    else if (u < 0.11) { e_t[i] <- n_t[i]; e_c[i] <- n_c[i] }     # double zero: only events
    else if (u < 0.18) e_t[i] <- 0
    else if (u < 0.25) e_c[i] <- 0
    else if (u < 0.28) e_t[i] <- n_t[i]
  }
  list(id = sprintf("t%03d", j), events_t = e_t, n_t = n_t, events_c = e_c, n_c = n_c)
}

draw_options <- function(measure) {
  list(
    add = c(0.5, 0.5, 0, 0.1, 1)[sample.int(5L, 1L)],
    to = c("only0", "all", "if0all", "none")[sample.int(4L, 1L)],
    drop00 = runif(1) < 0.7,
    correct = if (measure == "OR") runif(1) < 0.7 else TRUE,
    level = LEVELS[sample.int(3L, 1L)]
  )
}

mh_fields <- c("estimate", "se", "ci_low", "ci_high", "statistic", "pvalue",
               "q", "q_df", "q_pvalue", "i2", "h2")
or_fields <- c("cmh", "cmh_pvalue", "tarone", "tarone_pvalue", "tarone_df",
               "breslow_day", "breslow_day_pvalue")

tables <- list()
bin_cases <- list()
for (j in seq_len(N_TABLE_SETS)) {
  tb <- draw_tables(j)
  ai <- tb$events_t
  n1i <- tb$n_t
  ci <- tb$events_c
  n2i <- tb$n_c
  tables[[j]] <- list(
    id = tb$id, k = length(ai),
    events_t = vec(ai), n_t = vec(n1i), events_c = vec(ci), n_c = vec(n2i),
    zero_cell_rows = sum(ai == 0 | ai == n1i | ci == 0 | ci == n2i),
    double_zero_rows = sum((ai == 0 & ci == 0) | (ai == n1i & ci == n2i))
  )
  for (measure in c("OR", "RR", "RD", "PETO")) {
    for (r in seq_len(CASES_PER_TABLE_MEASURE)) {
      o <- draw_options(measure)
      id <- sprintf("%s-%s-%d", tb$id, measure, r)
      if (measure == "PETO") {
        res <- capture(rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, add = o$add, to = o$to,
                                drop00 = o$drop00, level = 100 * o$level))
        fields <- mh_fields
      } else {
        res <- capture(rma.mh(ai = ai, n1i = n1i, ci = ci, n2i = n2i, measure = measure,
                              add = o$add, to = o$to, drop00 = o$drop00, correct = o$correct,
                              level = 100 * o$level))
        fields <- if (measure == "OR") c(mh_fields, or_fields) else mh_fields
      }
      err <- NULL
      expected <- setNames(rep(NA_real_, length(fields)), fields)
      k_yi <- NA
      if (res$failed) {
        err <- res$value$message
      } else {
        fit <- res$value
        k_yi <- fit$k.yi
        expected[mh_fields] <- c(fit$b[1], fit$se, fit$ci.lb, fit$ci.ub, fit$zval, fit$pval,
                                 fit$QE, fit$k.yi - 1, fit$QEp, fit$I2, fit$H2)
        if (measure == "OR") {
          expected[or_fields] <- c(fit$MH, fit$MHp, fit$TA, fit$TAp, fit$k.pos - 1, fit$BD, fit$BDp)
        }
      }
      bin_cases[[length(bin_cases) + 1L]] <- list(
        id = id, tables = tb$id, measure = measure,
        options = list(add = num(o$add), to = o$to, drop00 = o$drop00, correct = o$correct,
                       level = num(o$level)),
        fields = I(fields), values = vec(expected),
        k_yi = if (is.na(k_yi)) json_raw("null") else k_yi,
        r_warnings = I(res$warnings),
        error = if (is.null(err)) json_raw("null") else err
      )
    }
  }
}

## ==========================================================================
## Write
## ==========================================================================
count_kind <- function(m) sum(vapply(bin_cases, function(z) z$measure %in% m, TRUE))
out <- list(
  description = paste(
    "Seeded randomized reference values from R's metafor for msc_meta, written by",
    "tests/reference/generate_metafor_random.R; see tests/reference/README.md."
  ),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated = format(Sys.Date(), "%Y-%m-%d"),
  seed = SEED,
  rng_kind = RNGkind(),
  settings = list(
    fisher_scoring = "from metafor's default start; threshold = 1e-13 * (min(vi) + tau2 of a first fit), or 1e-13 * (vt + tau2) where that does not converge (per case: threshold)",
    uniroot_tol = num(UNIROOT_TOL),
    maxiter = MAXITER,
    tau2_max = "per dataset: 1e8 * (sum((yi - mean(yi))^2) + max(vi))",
    confint = "once per dataset and level, on a DL fit, control = list(tol, maxiter, tau2.min = 0, tau2.max)",
    tests_and_levels = "test of method j on dataset i: TESTS[(i + j - 2) %% 4 + 1]; level drawn from 0.95, 0.90, 0.99",
    mh_peto = "add, to, drop00 shape the study-level effects only (metafor's add[1], to[1], drop00[1]); the pooled estimate uses the counts as given (metafor's defaults add[2] = 0, to[2] = \"none\", drop00[2] = FALSE)",
    number_format = "shortest of %.15g/%.16g/%.17g that round-trips; null = NA; strings \"NaN\", \"Inf\", \"-Inf\"",
    level = "fraction (0.95); metafor was called with level = 100 * level"
  ),
  counts = list(
    datasets = length(datasets), rma = length(rma_cases), rma_errors = n_rma_errors,
    table_sets = length(tables), mh = count_kind(c("OR", "RR", "RD")), peto = count_kind("PETO"),
    bin_errors = sum(vapply(bin_cases, function(z) !inherits(z$error, "json"), TRUE))
  ),
  rma_fields = rma_fields,
  q_fields = q_fields,
  qprofile_fields = qprofile_fields,
  datasets = datasets,
  rma = rma_cases,
  tables = tables,
  binary = bin_cases
)
json <- toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null",
               pretty = FALSE, digits = NA)
writeLines(json, out_path, useBytes = TRUE)
message(sprintf("wrote %s (%s bytes): %d datasets, %d rma cases (%d errors), %d table sets, %d mh/peto cases; %.0f s",
                out_path, format(file.size(out_path), big.mark = ","), length(datasets), length(rma_cases),
                n_rma_errors, length(tables), length(bin_cases), proc.time()[["elapsed"]] - t_start))
