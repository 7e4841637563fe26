//! `dynobench plan`: read the run through the one reader, take each ok class's measured
//! service times, plan dynos and the monthly bill per class, print and write the CSV.

use anyhow::anyhow;

use super::common::{print, write_file};
use super::simulate::{sim_err, svc_err};
use crate::cli::PlanArgs;
use crate::error::{CliError, Outcome, usage};
use crate::report::reader::read_run;
use crate::report::service::{HistSource, class_demand, class_of, class_service};
use crate::simulate::Policy;
use crate::simulate::event::EventConfig;
use crate::simulate::plan::{self, CpuScenario, DynoModel, PlanClass, PlanConfig, Workers};
use crate::units::fmt_secs;

/// `dynobench plan`.
pub(crate) fn plan(a: PlanArgs) -> Result<Outcome, CliError> {
    let run = read_run(&a.results).map_err(usage)?;
    if a.max_dynos == 0 {
        return Err(usage(anyhow!("--max-dynos must be at least 1 (got 0)")));
    }
    let wanted: Vec<&crate::record::ClassResult> = if a.classes.is_empty() {
        run.report.classes.iter().collect()
    } else {
        a.classes
            .iter()
            .map(|c| class_of(&run, c))
            .collect::<Result<_, _>>()
            .map_err(svc_err)?
    };
    let mut skipped = Vec::new();
    let mut classes = Vec::new();
    for c in wanted {
        if !c.is_ok() {
            skipped.push(format!(
                "{}: skipped (status '{}' in the run)",
                c.name,
                c.status.name()
            ));
            continue;
        }
        let workers = Some(c.workers).filter(|&w| w > 0).ok_or_else(|| {
            usage(anyhow!(
                "{}: class '{}' has no workers (WEB_CONCURRENCY) of at least 1",
                run.path.display(),
                c.name
            ))
        })?;
        let price = Some(c.price_usd_month)
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| {
                usage(anyhow!(
                    "{}: class '{}' has no usable price_usd_month (a non-negative number)",
                    run.path.display(),
                    c.name
                ))
            })?;
        match class_demand(&run, c).map_err(svc_err)? {
            Some((demand, source)) => {
                let scenarios = match (&c.limits, a.cpu_local) {
                    (Some(l), true) => vec![CpuScenario {
                        label: "as applied here".into(),
                        cpu: crate::simulate::cpu::Cpu::from_limits(l),
                    }],
                    _ => plan::scenarios_of(&c.class.cpu),
                };
                let top = scenarios.iter().map(|s| s.cpu.limit()).fold(0.0, f64::max);
                let workers = match a.workers {
                    Some(w) => Workers::Fixed(w),
                    None => Workers::Search {
                        max: a.max_workers.unwrap_or_else(|| plan::max_workers(top, &demand)),
                    },
                };
                classes.push(PlanClass {
                    name: c.name.clone(),
                    price_usd_month: price,
                    source,
                    model: DynoModel::Cpu {
                        workers,
                        scenarios,
                        demand,
                    },
                });
            }
            None => {
                let s = class_service(&run, c).map_err(svc_err)?;
                let measured_at = c.load.concurrency;
                if workers > 1 && measured_at > 0 && measured_at < workers {
                    skipped.push(format!(
                        "{}: note: no CPU figures in the run, so each worker is modelled as an independent server at the service times measured with {measured_at} caller(s); \
                         if the workers share the class's CPU, service under load is slower",
                        c.name
                    ));
                }
                classes.push(PlanClass {
                    name: c.name.clone(),
                    price_usd_month: price,
                    source: match s.source {
                        HistSource::ServerWall => "server_wall".into(),
                        other => other.to_string(),
                    },
                    model: DynoModel::Servers {
                        workers: a.workers.unwrap_or(workers),
                        service: s.dist,
                    },
                });
            }
        }
    }
    if classes.is_empty() {
        return Err(usage(anyhow!(
            "{}: no class with status ok to plan for ({})",
            run.path.display(),
            if skipped.is_empty() {
                "the run has no classes".to_string()
            } else {
                skipped.join("; ")
            }
        )));
    }
    let cfg = PlanConfig {
        rate: a.rate,
        slo: a.slo.clone(),
        policy: a.routing,
        sim: EventConfig {
            requests: a.requests,
            samples: a.samples,
            routers: a.routers,
            backlog: a.backlog,
            timeout: a.timeout,
            arrivals: a.arrivals,
            seed: a.seed,
            ..EventConfig::default()
        },
        max_dynos: a.max_dynos,
    };
    let plans = plan::plan(&cfg, &classes).map_err(sim_err)?;
    let best = plan::cheapest(&plans);
    let routing = match a.routing {
        Policy::PerRouterLeastConnections => a.routing.label(a.routers),
        p => p.name().to_string(),
    };
    let mut text = format!(
        "dynobench plan: {} req/s, SLO {}, {routing} routing, service times from {}\n\
         Each size simulated with {} samples × {} requests ({} arrivals, backlog {}, router timeout {}), seed {}; \
         a month is {} h.\n\n",
        a.rate,
        a.slo,
        run.path.display(),
        a.samples,
        a.requests,
        a.arrivals,
        a.backlog,
        fmt_secs(a.timeout),
        a.seed,
        plan::HOURS_PER_MONTH
    );
    let intro = text.clone();
    let body = crate::report::plan::render_plan(&plans, best, &a.slo, a.rate, &skipped);
    text.push_str(&body);
    let csv = crate::report::plan::render_plan_csv(&plans, &a.slo, a.rate);
    if let Some(path) = &a.csv {
        write_file(path, "--csv", &csv)?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if let Some(path) = &a.html {
        // The page shows the table from the CSV and the text's conclusions below its table.
        let conclusions = body.split_once("\n\n").map_or("", |(_, rest)| rest);
        let title = format!("dynobench plan: {} req/s, SLO {}", a.rate, a.slo);
        let page = crate::report::export::html::plan_page(&title, &intro, &csv, conclusions);
        write_file(path, "--html", &page)?;
        text.push_str(&format!("page: {}\n", path.display()));
    }
    print(&text)?;
    Ok(if best.is_some() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}
