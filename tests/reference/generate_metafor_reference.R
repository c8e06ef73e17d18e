#!/usr/bin/env Rscript
## Reference values from R's metafor for tests/test_metafor_reference.py.
##
## Usage (from the repository root; `make references` runs exactly this):
##   Rscript tests/reference/generate_metafor_reference.R tests/reference/metafor_reference.json
##
## Needs R with metafor (>= 3.8) and jsonlite, e.g. on Debian/Ubuntu:
##   apt-get update && apt-get install -y r-base-core r-cran-metafor r-cran-jsonlite
##
## Every input number is written into the JSON, so the Python tests need neither
## R nor a random-number generator that matches R's. Numbers are written with
## "%.17g", which round-trips every double exactly; NA becomes null and
## non-finite values the strings "NaN", "Inf" and "-Inf".
##
## Argument names in the JSON `inputs` are msc_meta's (events_t, n_t, ...).
## The mapping to metafor's escalc() arguments is PY_TO_MF below; for the
## pre-post measures: m1i = mean_post, m2i = mean_pre, sd1i = sd_post,
## sd2i = sd_pre (MC, SMCC), and for SMCR, which metafor standardises by sd1i
## and msc_meta by the pre-test SD, sd1i = sd_pre.
##
## See tests/reference/README.md for what the cases cover.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/reference/metafor_reference.json"

## --------------------------------------------------------------------------
## Convergence settings
## --------------------------------------------------------------------------
## Iterative tau^2 estimators are driven far below the tolerances of the tests
## (1e-7): Fisher scoring (ML, REML, EB) stops when tau^2 changes by less than
## 1e-12; the root finders (PM, PMM, Q-profile) use uniroot(tol = 1e-12).
## tau2.max only brackets the root search of PM/PMM and of the Q-profile
## interval; 1e6 is far above every tau^2 in the grid (checked below), so no
## estimate or bound is capped by it.
TAU2_MAX <- 1e6
RMA_CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000L, tau2.max = TAU2_MAX)
CONFINT_CONTROL <- list(tol = 1e-12, maxiter = 10000L, tau2.max = TAU2_MAX)

METHODS <- c("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
TESTS <- c("z", "t", "knha", "adhoc")

## --------------------------------------------------------------------------
## Exact JSON numbers
## --------------------------------------------------------------------------
fmt_num <- function(v) {
  if (is.na(v) && !is.nan(v)) return("null")
  if (is.nan(v)) return("\"NaN\"")
  if (is.infinite(v)) return(if (v > 0) "\"Inf\"" else "\"-Inf\"")
  sprintf("%.17g", v)
}
json_raw <- function(s) structure(s, class = "json")
num <- function(x) {
  if (is.null(x) || length(x) == 0L) return(json_raw("null"))
  stopifnot(length(x) == 1L)
  json_raw(fmt_num(as.numeric(x)))
}
vec <- function(x) {
  json_raw(paste0("[", paste(vapply(as.numeric(x), fmt_num, ""), collapse = ","), "]"))
}
null <- function() json_raw("null")

## --------------------------------------------------------------------------
## Bookkeeping
## --------------------------------------------------------------------------
cases <- list()
not_generated <- list()
datasets_used <- list()

add_case <- function(case) {
  ids <- vapply(cases, function(z) z$id, "")
  if (case$id %in% ids) stop("duplicate case id: ", case$id)
  cases[[length(cases) + 1L]] <<- case
  invisible(NULL)
}

note_dataset <- function(name, source, description) {
  datasets_used[[name]] <<- list(source = source, description = description)
}

## Evaluate expr; collect warnings (muffled) and turn an error into a marker.
capture <- function(expr) {
  warns <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(message = conditionMessage(e)), class = "ref_error")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  list(value = value, warnings = warns, failed = inherits(value, "ref_error"))
}

skip_case <- function(id, why) {
  not_generated[[length(not_generated) + 1L]] <<- list(id = id, reason = why)
  message("not generated: ", id, ": ", why)
}

lvl_tag <- function(level) sprintf("%02d", round(100 * level))

## --------------------------------------------------------------------------
## escalc cases
## --------------------------------------------------------------------------
PY_TO_MF <- list(
  binary = c(events_t = "ai", n_t = "n1i", events_c = "ci", n_c = "n2i"),
  means = c(mean_t = "m1i", sd_t = "sd1i", n_t = "n1i", mean_c = "m2i", sd_c = "sd2i", n_c = "n2i"),
  prop = c(events = "xi", n = "ni"),
  cor = c(r = "ri", n = "ni"),
  change = c(mean_post = "m1i", mean_pre = "m2i", sd_post = "sd1i", sd_pre = "sd2i", n = "ni", r = "ri"),
  smcr = c(mean_post = "m1i", mean_pre = "m2i", sd_pre = "sd1i", n = "ni", r = "ri"),
  mean1 = c(mean = "mi", sd = "sdi", n = "ni")
)
MEASURE_GROUP <- c(
  OR = "binary", RR = "binary", RD = "binary", PETO = "binary", AS = "binary",
  MD = "means", SMD = "means", ROM = "means",
  PR = "prop", PLO = "prop", PLN = "prop", PAS = "prop", PFT = "prop",
  COR = "cor", ZCOR = "cor",
  MC = "change", SMCC = "change", SMCR = "smcr",
  MN = "mean1"
)
## metafor's escalc uses add = 0 by default for these measures, 1/2 otherwise
ADD_ZERO_DEFAULT <- c("AS", "PAS", "PFT")

## Facts about zero cells, computed from the inputs exactly as escalc applies
## add/to/drop00 (so the tests can decide which warnings are legitimate).
zero_cell_flags <- function(measure, inputs, options) {
  group <- MEASURE_GROUP[[measure]]
  if (!group %in% c("binary", "prop")) return(NULL)
  add <- if (!is.null(options$add)) options$add else if (measure %in% ADD_ZERO_DEFAULT) 0 else 0.5
  to <- if (!is.null(options$to)) options$to else "only0"
  drop00 <- if (!is.null(options$drop00)) options$drop00 else FALSE
  if (group == "binary") {
    ai <- inputs$events_t
    bi <- inputs$n_t - inputs$events_t
    ci <- inputs$events_c
    di <- inputs$n_c - inputs$events_c
    double_zero <- (ai == 0 & ci == 0) | (bi == 0 & di == 0)
    dropped <- drop00 & double_zero
    zero_row <- (ai == 0 | bi == 0 | ci == 0 | di == 0) & !dropped
  } else {
    xi <- inputs$events
    mi <- inputs$n - inputs$events
    double_zero <- rep(FALSE, length(xi))
    dropped <- double_zero
    zero_row <- xi == 0 | mi == 0
  }
  corrected <- if (add == 0 || to == "none") {
    rep(FALSE, length(zero_row))
  } else if (to == "all") {
    !dropped
  } else if (to == "if0all") {
    (!dropped) & any(zero_row)
  } else {
    zero_row
  }
  list(
    effective_add = num(add), effective_to = to, effective_drop00 = drop00,
    zero_cell_rows = sum(zero_row), double_zero_rows = sum(double_zero),
    double_zero_dropped = sum(dropped), corrected_rows = sum(corrected),
    zero_cells_corrected = any(corrected & zero_row)
  )
}

escalc_case <- function(dataset, measure, inputs, options = list(), tag = NULL) {
  group <- MEASURE_GROUP[[measure]]
  map <- PY_TO_MF[[group]]
  opt_tag <- if (length(options) == 0L) {
    "defaults"
  } else {
    paste(vapply(names(options), function(o) {
      v <- options[[o]]
      if (is.logical(v)) v <- if (v) "T" else "F"
      paste0(o, "_", v)
    }, ""), collapse = "-")
  }
  id <- paste(c("escalc", dataset, measure, tag, opt_tag), collapse = "-")
  mf_args <- list(measure = measure)
  for (py in names(map)) mf_args[[map[[py]]]] <- inputs[[py]]
  res <- capture(do.call(escalc, c(mf_args, options)))
  if (res$failed) return(skip_case(id, res$value$message))
  yi <- as.numeric(res$value$yi)
  vi <- as.numeric(res$value$vi)
  ## msc_meta gets every input of the measure group (SMCR also sd_post, which it ignores)
  json_inputs <- lapply(inputs, vec)
  json_options <- lapply(options, function(v) if (is.numeric(v)) num(v) else v)
  add_case(list(
    id = id, kind = "escalc", dataset = dataset, measure = measure,
    inputs = json_inputs,
    options = if (length(json_options)) json_options else structure(list(), names = character(0)),
    metafor_call = paste0(
      "escalc(measure = \"", measure, "\", ",
      paste(paste0(map, " = ", names(map)), collapse = ", "),
      if (length(options)) paste0(", ", paste(names(options), "=", vapply(options, function(v) {
        if (is.character(v)) paste0("\"", v, "\"") else as.character(v)
      }, ""), collapse = ", ")) else "",
      ")"
    ),
    flags = c(list(k = length(yi), na_effects = sum(is.na(yi))), zero_cell_flags(measure, inputs, options)),
    r_warnings = I(res$warnings),
    expected = list(effect = vec(yi), variance = vec(vi))
  ))
}

## --------------------------------------------------------------------------
## rma.uni cases (+ predict + Q-profile confint)
## --------------------------------------------------------------------------
rma_case <- function(dataset, yi, vi, method, test, level) {
  id <- paste("rma", dataset, method, test, lvl_tag(level), sep = "-")
  k <- length(yi)
  fit_res <- capture(rma(yi, vi, method = method, test = test, level = 100 * level,
                         control = RMA_CONTROL))
  if (fit_res$failed) return(skip_case(id, fit_res$value$message))
  fit <- fit_res$value
  warns <- fit_res$warnings
  pr_res <- capture(predict(fit))
  if (pr_res$failed) return(skip_case(id, pr_res$value$message))
  pr <- pr_res$value
  warns <- c(warns, pr_res$warnings)
  if (method == "EE") {
    ## metafor prints no prediction interval for an EE model; with tau^2 = 0
    ## it is the confidence interval, which is what msc_meta reports.
    pi_low <- pr$ci.lb
    pi_high <- pr$ci.ub
  } else {
    pi_low <- pr$pi.lb
    pi_high <- pr$pi.ub
  }
  tau2_ci <- i2_ci <- h2_ci <- NULL
  ci_info <- NULL
  if (method != "EE" && k >= 2L) {
    ci_res <- capture(confint(fit, control = CONFINT_CONTROL))
    if (ci_res$failed) return(skip_case(id, paste("confint:", ci_res$value$message)))
    ci <- ci_res$value
    warns <- c(warns, ci_res$warnings)
    rnd <- ci$random
    if (any(rnd["tau^2", 2:3] >= TAU2_MAX)) stop(id, ": Q-profile bound hit tau2.max")
    tau2_ci <- rnd["tau^2", 2:3]
    i2_ci <- rnd["I^2(%)", 2:3]
    h2_ci <- rnd["H^2", 2:3]
    ci_info <- list(
      lower_sign = ci$lb.sign, upper_sign = ci$ub.sign, ci_null = ci$ci.null,
      lower_at_zero = unname(tau2_ci[1] == 0)
    )
  }
  if (fit$tau2 >= TAU2_MAX / 10) stop(id, ": tau2 near tau2.max")
  q_df <- fit$k - fit$p
  add_case(list(
    id = id, kind = "rma", dataset = dataset,
    inputs = list(yi = vec(yi), vi = vec(vi)),
    options = list(method = method, test = test, level = num(level)),
    metafor_call = paste0(
      "rma(yi, vi, method = \"", method, "\", test = \"", test, "\", level = ", 100 * level,
      ", control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6))",
      if (!is.null(ci_info)) "; confint(fit, control = list(tol = 1e-12, maxiter = 10000, tau2.max = 1e6))" else ""
    ),
    flags = list(
      k = k,
      q_below_df = unname(fit$QE < q_df),
      tau2_zero = unname(method != "EE" && fit$tau2 == 0),
      identical_effects = length(unique(yi)) == 1L,
      tau2_ci = if (is.null(ci_info)) null() else ci_info
    ),
    r_warnings = I(warns),
    expected = list(
      estimate = num(fit$b[1]), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
      statistic = num(fit$zval), pvalue = num(fit$pval),
      df = if (is.na(fit$ddf)) null() else num(fit$ddf),
      tau2 = num(fit$tau2),
      tau2_se = if (method == "EE") null() else num(fit$se.tau2),
      i2 = num(fit$I2), h2 = num(fit$H2),
      q = num(fit$QE), q_df = num(q_df), q_pvalue = num(fit$QEp),
      pi_low = num(pi_low), pi_high = num(pi_high),
      tau2_ci = if (is.null(tau2_ci)) null() else vec(tau2_ci),
      i2_ci = if (is.null(i2_ci)) null() else vec(i2_ci),
      h2_ci = if (is.null(h2_ci)) null() else vec(h2_ci)
    )
  ))
}

rma_grid <- function(dataset, yi, vi, levels = 0.95) {
  stopifnot(length(yi) == length(vi), !anyNA(yi), !anyNA(vi), all(vi > 0))
  for (level in levels) for (method in METHODS) for (test in TESTS) {
    rma_case(dataset, yi, vi, method, test, level)
  }
}

## --------------------------------------------------------------------------
## Mantel-Haenszel and Peto cases
## --------------------------------------------------------------------------
binary_flags <- function(inputs) {
  ai <- inputs$events_t
  bi <- inputs$n_t - ai
  ci <- inputs$events_c
  di <- inputs$n_c - ci
  list(
    k = length(ai),
    zero_cell_rows = sum(ai == 0 | bi == 0 | ci == 0 | di == 0),
    double_zero_rows = sum((ai == 0 & ci == 0) | (bi == 0 & di == 0))
  )
}

mh_case <- function(dataset, measure, inputs, level) {
  id <- paste("mh", dataset, measure, lvl_tag(level), sep = "-")
  res <- capture(rma.mh(ai = inputs$events_t, n1i = inputs$n_t, ci = inputs$events_c,
                        n2i = inputs$n_c, measure = measure, level = 100 * level))
  if (res$failed) return(skip_case(id, res$value$message))
  fit <- res$value
  if (is.na(fit$b[1])) return(skip_case(id, "metafor returns NA for the MH estimate"))
  expected <- list(
    estimate = num(fit$b[1]), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
    statistic = num(fit$zval), pvalue = num(fit$pval),
    q = num(fit$QE), q_df = num(fit$k.yi - 1), q_pvalue = num(fit$QEp),
    i2 = num(fit$I2), h2 = num(fit$H2)
  )
  if (measure == "OR") {
    expected <- c(expected, list(
      cmh = num(fit$MH), cmh_pvalue = num(fit$MHp),
      tarone = num(fit$TA), tarone_pvalue = num(fit$TAp)
    ))
  }
  add_case(list(
    id = id, kind = "mh", dataset = dataset, measure = measure,
    inputs = lapply(inputs, vec),
    options = list(measure = measure, level = num(level)),
    metafor_call = paste0("rma.mh(ai, n1i, ci, n2i, measure = \"", measure, "\", level = ", 100 * level,
                          ")  # defaults add = 1/2, to = \"only0\", drop00 = TRUE for the Q test"),
    flags = c(binary_flags(inputs), list(k_yi = fit$k.yi)),
    r_warnings = I(res$warnings),
    expected = expected
  ))
}

peto_case <- function(dataset, inputs, level) {
  id <- paste("peto", dataset, lvl_tag(level), sep = "-")
  res <- capture(rma.peto(ai = inputs$events_t, n1i = inputs$n_t, ci = inputs$events_c,
                          n2i = inputs$n_c, level = 100 * level))
  if (res$failed) return(skip_case(id, res$value$message))
  fit <- res$value
  add_case(list(
    id = id, kind = "peto", dataset = dataset, measure = "PETO",
    inputs = lapply(inputs, vec),
    options = list(level = num(level)),
    metafor_call = paste0("rma.peto(ai, n1i, ci, n2i, level = ", 100 * level, ")"),
    flags = c(binary_flags(inputs), list(k_yi = fit$k.yi)),
    r_warnings = I(res$warnings),
    expected = list(
      estimate = num(fit$b[1]), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
      statistic = num(fit$zval), pvalue = num(fit$pval),
      q = num(fit$QE), q_df = num(fit$k.yi - 1), q_pvalue = num(fit$QEp),
      i2 = num(fit$I2), h2 = num(fit$H2)
    )
  ))
}

## ==========================================================================
## Data
## ==========================================================================
binary_inputs <- function(ai, n1i, ci, n2i) {
  list(events_t = as.numeric(ai), n_t = as.numeric(n1i), events_c = as.numeric(ci), n_c = as.numeric(n2i))
}

## ---- public two-group binary data (metadat) --------------------------------
bin <- list()
bin$bcg <- with(dat.bcg, binary_inputs(tpos, tpos + tneg, cpos, cpos + cneg))
note_dataset("bcg", "metadat::dat.bcg", "BCG vaccine trials (Colditz et al. 1994), 13 two-arm trials, TB cases")
bin$li2007 <- with(dat.li2007, binary_inputs(ai, n1i, ci, n2i))
note_dataset("li2007", "metadat::dat.li2007", "Magnesium for myocardial infarction (Li et al. 2007), 22 trials, zero cells")
bin$nielweise2007 <- with(dat.nielweise2007, binary_inputs(ai, n1i, ci, n2i))
note_dataset("nielweise2007", "metadat::dat.nielweise2007",
             "Anti-infective catheters (Nielweise et al. 2007), 18 trials, zero and double-zero cells")
y6 <- dat.yusuf1985[dat.yusuf1985$table == "6" & !is.na(dat.yusuf1985$ai), ]
bin$yusuf1985_t6 <- with(y6, binary_inputs(ai, n1i, ci, n2i))
note_dataset("yusuf1985_t6", "metadat::dat.yusuf1985 (table == \"6\", the all-NA row Snow 1 removed)",
             "Beta blockers after myocardial infarction (Yusuf et al. 1985), table 6, 21 trials, 3 double zeros")
cb <- dat.collins1985a[!is.na(dat.collins1985a$b.xti) & !is.na(dat.collins1985a$b.xci), ]
bin$collins1985a_bleeding <- with(cb, binary_inputs(b.xti, nti, b.xci, nci))
note_dataset("collins1985a_bleeding", "metadat::dat.collins1985a (rows with bleeding counts)",
             "Sclerotherapy trials (Collins & Langman 1985), any bleeding, 25 trials")
bin$hine1989 <- with(dat.hine1989, binary_inputs(ai, n1i, ci, n2i))
note_dataset("hine1989", "metadat::dat.hine1989", "Lidocaine and mortality (Hine et al. 1989), 6 trials")
bin$lee2004 <- with(dat.lee2004, binary_inputs(ai, n1i, ci, n2i))
note_dataset("lee2004", "metadat::dat.lee2004", "Acupoint stimulation and nausea (Lee & Done 2004), 16 trials")

## ---- synthetic binary data -------------------------------------------------
## Hand-made zero-cell patterns: a zero in one arm, a zero in the other, a
## double zero (no events), a double "all events", all events in one arm,
## and two ordinary tables.
bin$synthetic_zero_cells <- binary_inputs(
  ai  = c(0, 2, 0, 15, 12, 5, 7),
  n1i = c(20, 25, 30, 15, 12, 40, 33),
  ci  = c(3, 0, 0, 10, 14, 8, 11),
  n2i = c(22, 24, 28, 18, 14, 41, 30)
)
note_dataset("synthetic_zero_cells", "hand-made",
             "7 tables: single zeros in each arm, double-zero (no events), double all-events, all events in one arm")
set.seed(20240521)
k <- 15L
n1 <- sample(20:200, k, replace = TRUE)
n2 <- sample(20:200, k, replace = TRUE)
p2 <- runif(k, 0.05, 0.6)
p1 <- plogis(qlogis(p2) + rnorm(k, -0.4, 0.3))
bin$random_k15_binary <- binary_inputs(rbinom(k, n1, p1), n1, rbinom(k, n2, p2), n2)
note_dataset("random_k15_binary", "simulated, set.seed(20240521)", "15 random two-arm tables, log OR ~ N(-0.4, 0.3^2)")
stopifnot(binary_flags(bin$random_k15_binary)$zero_cell_rows == 0)

## ---- two-group means -----------------------------------------------------
means_inputs <- function(m1i, sd1i, n1i, m2i, sd2i, n2i) {
  list(mean_t = as.numeric(m1i), sd_t = as.numeric(sd1i), n_t = as.numeric(n1i),
       mean_c = as.numeric(m2i), sd_c = as.numeric(sd2i), n_c = as.numeric(n2i))
}
means <- list()
means$normand1999 <- with(dat.normand1999, means_inputs(m1i, sd1i, n1i, m2i, sd2i, n2i))
note_dataset("normand1999", "metadat::dat.normand1999", "Stroke unit length of stay (Normand 1999), 9 trials")
g <- dat.gibson2002[!is.na(dat.gibson2002$m1i), ]
means$gibson2002 <- with(g, means_inputs(m1i, sd1i, n1i, m2i, sd2i, n2i))
note_dataset("gibson2002", "metadat::dat.gibson2002 (rows with means)",
             "Asthma self-management education (Gibson et al. 2002), 13 trials with means and SDs")
means$curtis1998 <- with(dat.curtis1998, means_inputs(m1i, sd1i, n1i, m2i, sd2i, n2i))
note_dataset("curtis1998", "metadat::dat.curtis1998", "Elevated CO2 and plant biomass (Curtis & Wang 1998), 102 studies")
set.seed(20240522)
k <- 12L
means$random_k12_means <- means_inputs(
  m1i = rnorm(k, 12, 3), sd1i = runif(k, 2, 6), n1i = sample(5:80, k, replace = TRUE),
  m2i = rnorm(k, 10, 3), sd2i = runif(k, 2, 6), n2i = sample(5:80, k, replace = TRUE)
)
note_dataset("random_k12_means", "simulated, set.seed(20240522)", "12 random two-arm mean/SD tables (positive means), n from 5")

## ---- one-group proportions ----------------------------------------------------
prop <- list()
prop$pritz1997 <- with(dat.pritz1997, list(events = as.numeric(xi), n = as.numeric(ni)))
note_dataset("pritz1997", "metadat::dat.pritz1997", "Tachycardia after intracranial surgery (Pritz 1997), 14 studies, proportions")
prop$debruin2009 <- with(dat.debruin2009, list(events = as.numeric(xi), n = as.numeric(ni)))
note_dataset("debruin2009", "metadat::dat.debruin2009", "HAART adherence (de Bruin et al. 2009), 13 studies, proportions")
prop$synthetic_zero_events <- list(events = c(0, 3, 12, 20, 1, 9), n = c(25, 40, 12, 20, 150, 30))
note_dataset("synthetic_zero_events", "hand-made", "6 proportions including 0/25, 12/12 and 20/20")
set.seed(20240523)
k <- 15L
nn <- sample(20:300, k, replace = TRUE)
prop$random_k15_prop <- list(events = as.numeric(rbinom(k, nn, runif(k, 0.05, 0.9))), n = as.numeric(nn))
note_dataset("random_k15_prop", "simulated, set.seed(20240523)", "15 random proportions")
stopifnot(all(prop$random_k15_prop$events > 0 & prop$random_k15_prop$events < prop$random_k15_prop$n))

## ---- correlations ----------------------------------------------------------
cor_in <- list()
cor_in$molloy2014 <- with(dat.molloy2014, list(r = as.numeric(ri), n = as.numeric(ni)))
note_dataset("molloy2014", "metadat::dat.molloy2014", "Conscientiousness and medication adherence (Molloy et al. 2014), 16 correlations")
mc94 <- dat.mcdaniel1994[!is.na(dat.mcdaniel1994$ri), ][1:40, ]
cor_in$mcdaniel1994_first40 <- with(mc94, list(r = as.numeric(ri), n = as.numeric(ni)))
note_dataset("mcdaniel1994_first40", "metadat::dat.mcdaniel1994, first 40 rows",
             "Employment interview validity (McDaniel et al. 1994), 40 correlations")
set.seed(20240524)
k <- 20L
cor_in$random_k20_cor <- list(r = c(round(runif(k - 3, -0.8, 0.9), 3), 0, -0.95, 0.5),
                          n = as.numeric(c(sample(10:500, k - 3, replace = TRUE), 30, 12, 4)))
note_dataset("random_k20_cor", "simulated, set.seed(20240524)", "20 correlations including r = 0, r = -0.95 and n = 4")

## ---- pre-post (mean change) ----------------------------------------------
## Morris (2008), data of Carlson & Schmidt (1999) as typed on
## https://www.metafor-project.org/doku.php/analyses:morris2008
change <- list()
change$morris2008_treatment <- list(
  mean_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), mean_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
  sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
  n = c(20, 50, 9, 10, 14), r = c(0.47, 0.64, 0.77, 0.89, 0.44)
)
change$morris2008_control <- list(
  mean_pre = c(23.1, 24.9, 0.6, 55.7, 34.8), mean_post = c(19.7, 25.3, 0.6, 60.7, 33.4),
  sd_pre = c(13.8, 4.1, 0.2, 17.3, 3.1), sd_post = c(14.8, 3.3, 0.2, 17.9, 6.9),
  n = c(20, 42, 9, 11, 14), r = c(0.47, 0.64, 0.77, 0.89, 0.44)
)
for (grp in c("treatment", "control")) {
  note_dataset(paste0("morris2008_", grp),
               "Morris (2008), data of Carlson & Schmidt (1999), as typed on metafor-project.org/doku.php/analyses:morris2008",
               paste("Training effectiveness, 5 studies, pretest-posttest,", grp, "groups"))
}
set.seed(20240525)
k <- 10L
pre <- rnorm(k, 50, 10)
change$random_k10_change <- list(
  mean_pre = pre, mean_post = pre + rnorm(k, 4, 3), sd_pre = runif(k, 5, 15), sd_post = runif(k, 5, 15),
  n = as.numeric(sample(6:60, k, replace = TRUE)), r = round(runif(k, -0.2, 0.9), 2)
)
note_dataset("random_k10_change", "simulated, set.seed(20240525)", "10 random pre-post summaries, r from -0.2 to 0.9")

## ---- one group's mean (MN: e.g. a reported mean change with its SD) -------
mean1 <- list()
mean1$morris2008_treatment_post <- list(
  mean = change$morris2008_treatment$mean_post, sd = change$morris2008_treatment$sd_post,
  n = change$morris2008_treatment$n
)
note_dataset("morris2008_treatment_post", "Morris (2008) treatment groups, post-test means and SDs",
             "5 single-group means with SDs")
set.seed(20240526)
mean1$random_k8_mean <- list(
  mean = round(rnorm(8, -1, 0.8), 2), sd = round(runif(8, 0.3, 2), 2),
  n = as.numeric(sample(5:60, 8, replace = TRUE))
)
note_dataset("random_k8_mean", "simulated, set.seed(20240526)",
             "8 single-group means (e.g. mean changes from baseline) with SDs and n")

## ==========================================================================
## escalc grid
## ==========================================================================
BINARY <- c("OR", "RR", "RD", "PETO", "AS")
for (ds in names(bin)) for (m in BINARY) escalc_case(ds, m, bin[[ds]])
ZERO_TO <- c("only0", "all", "if0all", "none")
for (ds in c("li2007", "nielweise2007", "synthetic_zero_cells")) {
  for (m in BINARY) for (to in ZERO_TO) for (drop00 in c(FALSE, TRUE)) {
    escalc_case(ds, m, bin[[ds]], list(add = 0.5, to = to, drop00 = drop00))
  }
}
for (m in BINARY) for (to in c("only0", "all", "if0all")) for (add in c(1, 0.1)) {
  escalc_case("synthetic_zero_cells", m, bin$synthetic_zero_cells, list(add = add, to = to, drop00 = FALSE))
}
for (ds in names(means)) for (m in c("MD", "SMD", "ROM")) escalc_case(ds, m, means[[ds]])
PROPS <- c("PR", "PLO", "PLN", "PAS", "PFT")
for (ds in names(prop)) for (m in PROPS) escalc_case(ds, m, prop[[ds]])
for (m in PROPS) for (to in ZERO_TO) for (add in c(0.5, 1)) {
  if (to == "none" && add != 0.5) next
  escalc_case("synthetic_zero_events", m, prop$synthetic_zero_events, list(add = add, to = to))
}
for (ds in names(cor_in)) for (m in c("COR", "ZCOR")) escalc_case(ds, m, cor_in[[ds]])
for (ds in names(change)) for (m in c("MC", "SMCC", "SMCR")) escalc_case(ds, m, change[[ds]])
for (ds in names(mean1)) escalc_case(ds, "MN", mean1[[ds]])

## ==========================================================================
## rma grid: yi/vi sets
## ==========================================================================
q_stat <- function(yi, vi) {
  w <- 1 / vi
  sum(w * (yi - sum(w * yi) / sum(w))^2)
}
yv <- list()
## yi/vi from escalc with metafor's defaults (add = 1/2 to zero-cell rows),
## rows with NA effects removed
derive <- function(name, measure, base) {
  inputs <- get_inputs(base)
  group <- MEASURE_GROUP[[measure]]
  map <- PY_TO_MF[[group]]
  a <- list(measure = measure)
  for (py in names(map)) a[[map[[py]]]] <- inputs[[py]]
  e <- suppressWarnings(do.call(escalc, a))
  keep <- !is.na(e$yi) & !is.na(e$vi)
  yi <- as.numeric(e$yi)[keep]
  vi <- as.numeric(e$vi)[keep]
  yv[[name]] <<- list(yi = yi, vi = vi)
  note_dataset(name, paste0("escalc(measure = \"", measure, "\") with default options on dataset '", base, "'"),
               sprintf("%s; %d effects, Q = %.3f", datasets_used[[base]]$description, sum(keep), q_stat(yi, vi)))
}
get_inputs <- function(base) {
  for (pool in list(bin, means, prop, cor_in, change)) if (!is.null(pool[[base]])) return(pool[[base]])
  stop("unknown dataset ", base)
}
given <- function(name, yi, vi, source, description) {
  stopifnot(!anyNA(yi), !anyNA(vi))
  yv[[name]] <<- list(yi = as.numeric(yi), vi = as.numeric(vi))
  note_dataset(name, source, sprintf("%s; Q = %.3f on %d df", description, q_stat(yi, vi), length(yi) - 1L))
}
derive("bcg_OR", "OR", "bcg")
derive("bcg_RR", "RR", "bcg")
derive("normand1999_SMD", "SMD", "normand1999")
derive("normand1999_MD", "MD", "normand1999")
given("hackshaw1998", dat.hackshaw1998$yi, dat.hackshaw1998$vi, "metadat::dat.hackshaw1998 (yi, vi as given)",
      "Environmental tobacco smoke and lung cancer (Hackshaw et al. 1998), 37 log odds ratios")
derive("pritz1997_PLO", "PLO", "pritz1997")
derive("molloy2014_ZCOR", "ZCOR", "molloy2014")
derive("yusuf1985_t6_OR", "OR", "yusuf1985_t6")
derive("collins1985a_bleeding_OR", "OR", "collins1985a_bleeding")
derive("li2007_OR", "OR", "li2007")
derive("morris2008_treatment_SMCR", "SMCR", "morris2008_treatment")
ish <- dat.ishak2007[!is.na(dat.ishak2007$y1i), ]
given("ishak2007_y1", ish$y1i, ish$v1i, "metadat::dat.ishak2007 (y1i, v1i, non-missing rows)",
      "Deep-brain stimulation, mean change in UPDRS at 3 months (Ishak et al. 2007), 24 studies")
derive("hine1989_RD", "RD", "hine1989")
derive("curtis1998_ROM", "ROM", "curtis1998")
derive("lee2004_RR", "RR", "lee2004")
derive("debruin2009_PFT", "PFT", "debruin2009")
given("konstantopoulos2011", dat.konstantopoulos2011$yi, dat.konstantopoulos2011$vi,
      "metadat::dat.konstantopoulos2011 (yi, vi; the multilevel structure ignored)",
      "Modified school calendars (Konstantopoulos 2011), 56 standardized mean differences")

## ---- simulated yi/vi: yi ~ N(mu, tau2 + vi) ------------------------------
sim_source <- function(seed) paste0("simulated, set.seed(", seed, ")")
set.seed(20240601)
vi <- runif(2, 0.01, 0.05)
yi <- rnorm(2, 0.2, sqrt(0.5 + vi))
stopifnot(q_stat(yi, vi) > 1)
given("sim_k2_heterogeneous", yi, vi, sim_source(20240601), "k = 2, tau2 = 0.5, Q > df")
set.seed(20240602)
vi <- runif(2, 0.05, 0.2)
yi <- 0.3 + 0.05 * rnorm(2)
stopifnot(q_stat(yi, vi) < 1)
given("sim_k2_homogeneous", yi, vi, sim_source(20240602), "k = 2, Q < df (tau2 = 0 boundary)")
set.seed(20240611)
vi <- runif(3, 0.05, 0.2)
yi <- rnorm(3, -0.3, sqrt(0.2 + vi))
stopifnot(q_stat(yi, vi) > 2)
given("sim_k3", yi, vi, sim_source(20240611), "k = 3, tau2 = 0.2, Q > df")
set.seed(20240604)
vi <- runif(8, 0.02, 0.2)
yi <- rnorm(8, 0.5, sqrt(vi))
yi <- mean(yi) + 0.4 * (yi - mean(yi))
stopifnot(q_stat(yi, vi) < 7)
given("sim_q_below_df", yi, vi, sim_source(20240604),
      "k = 8, tau2 = 0 and deviations shrunk by 0.4 so that Q < df (tau2 = 0 boundary, null Q-profile interval)")
set.seed(20240605)
given("sim_identical_effects", rep(0.3, 6), runif(6, 0.02, 0.2), sim_source(20240605),
      "k = 6, every yi = 0.3 (Q = 0; Hartung-Knapp factor 0)")
set.seed(20240606)
vi <- runif(10, 0.005, 0.02)
given("sim_huge_heterogeneity", rnorm(10, 1, sqrt(25 + vi)), vi, sim_source(20240606),
      "k = 10, tau2 = 25 with vi ~ 0.01 (I2 near 100%)")
set.seed(20240607)
vi <- 10^runif(12, -4, 1)
given("sim_unequal_variances", rnorm(12, 0.1, sqrt(0.05 + vi)), vi, sim_source(20240607),
      "k = 12, vi log-uniform from 1e-4 to 10, tau2 = 0.05")
set.seed(20240608)
vi <- runif(30, 0.01, 0.3)
given("sim_k30", rnorm(30, 0.25, sqrt(0.1 + vi)), vi, sim_source(20240608), "k = 30, tau2 = 0.1")
set.seed(20240609)
vi <- runif(10, 10, 60)
given("sim_large_scale", rnorm(10, 50, sqrt(100 + vi)), vi, sim_source(20240609),
      "k = 10, mu = 50, tau2 = 100, vi from 10 to 60 (raw-score scale)")
set.seed(20240610)
vi <- runif(6, 0.03, 0.15)
given("sim_q_near_df", rnorm(6, -1.2, sqrt(vi)), vi, sim_source(20240610), "k = 6, generated with tau2 = 0, Q somewhat above df")

LEVEL_90 <- c("bcg_OR", "normand1999_SMD", "hackshaw1998", "molloy2014_ZCOR", "ishak2007_y1",
              "sim_k2_heterogeneous", "sim_k2_homogeneous", "sim_k3", "sim_q_below_df",
              "sim_identical_effects", "sim_huge_heterogeneity", "sim_unequal_variances", "sim_k30")
for (ds in names(yv)) {
  rma_grid(ds, yv[[ds]]$yi, yv[[ds]]$vi, levels = if (ds %in% LEVEL_90) c(0.95, 0.90) else 0.95)
}

## ==========================================================================
## Mantel-Haenszel and Peto
## ==========================================================================
for (ds in names(bin)) {
  for (level in c(0.95, 0.90)) {
    for (m in c("OR", "RR", "RD")) mh_case(ds, m, bin[[ds]], level)
    peto_case(ds, bin[[ds]], level)
  }
}

## ==========================================================================
## Write
## ==========================================================================
kinds <- vapply(cases, function(z) z$kind, "")
message("cases: ", length(cases), " (", paste(names(table(kinds)), table(kinds), sep = " = ", collapse = ", "), ")")
message("not generated: ", length(not_generated))

out <- list(
  description = paste(
    "Reference values from R's metafor for msc_meta, written by",
    "tests/reference/generate_metafor_reference.R; see tests/reference/README.md."
  ),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated = format(Sys.Date(), "%Y-%m-%d"),
  rng_kind = RNGkind(),
  settings = list(
    rma_control = list(threshold = num(1e-12), tol = num(1e-12), maxiter = 10000L, tau2.max = num(TAU2_MAX)),
    confint_control = list(tol = num(1e-12), maxiter = 10000L, tau2.max = num(TAU2_MAX)),
    number_format = "%.17g (exact doubles); null = NA; strings \"NaN\", \"Inf\", \"-Inf\" for non-finite values",
    level = "fraction (0.95); metafor was called with level = 100 * level",
    argument_mapping = lapply(PY_TO_MF, as.list)
  ),
  datasets = datasets_used,
  counts = as.list(table(kinds)),
  not_generated = not_generated,
  cases = cases
)
json <- toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", pretty = FALSE)
writeLines(json, out_path, useBytes = TRUE)
message("wrote ", out_path, " (", format(file.size(out_path), big.mark = ","), " bytes)")
