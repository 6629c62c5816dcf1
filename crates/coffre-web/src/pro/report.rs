//! Rapport d'activité (structure admins): counts per month for the last
//! twelve months — people enrolled, papers added, duplicates printed,
//! links opened, consents given and withdrawn — as bars drawn on the
//! server (SVG), the same figures in a table, and a CSV file. No name, no
//! identifier, no title; a count under 5 shows as "< 5".

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use coffre_api::AppState;
use coffre_vault::{MonthCounts, shown_count};

use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::i18n::Tr;
use crate::ok;
use crate::session::Caseworker;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/rapport", get(report))
        .route("/pro/rapport.csv", get(csv))
}

/// Months a report shows.
const MONTHS: u32 = 12;

/// A measure: its Fluent key, its CSV column, how it is counted.
type Measure = (&'static str, &'static str, fn(&MonthCounts) -> u64);

/// The measures, in the order of the table's columns.
fn measures() -> [Measure; 6] {
    [
        ("pro-report-enrolled", "personnes_inscrites", |m| m.enrolled),
        ("pro-report-added", "papiers_ajoutes", |m| m.papers_added),
        ("pro-report-duplicates", "duplicatas_imprimes", |m| {
            m.duplicates
        }),
        ("pro-report-links", "liens_ouverts", |m| m.links_opened),
        ("pro-report-given", "accords_donnes", |m| m.consents_given),
        ("pro-report-withdrawn", "accords_retires", |m| {
            m.consents_withdrawn
        }),
    ]
}

/// A count as shown: the number, or "< 5".
fn shown(n: u64) -> String {
    shown_count(n).map_or_else(|| "< 5".to_owned(), |n| n.to_string())
}

fn month_name(tr: &Tr, (y, m): (i16, i8)) -> String {
    format!("{} {y}", tr.t(&format!("month-{m}")))
}

/// One bar of a chart.
struct Bar {
    x: u32,
    y: u32,
    height: u32,
    label: String,
    label_y: u32,
    /// Where its label is centred.
    mid: u32,
    month: String,
}

/// One chart: a measure over the months.
struct Chart {
    id: String,
    title: String,
    bars: Vec<Bar>,
    bar_w: u32,
}

const CHART_H: u32 = 90;
/// A bar's width; the template draws it.
const BAR_W: u32 = 22;
const STEP: u32 = 30;

fn chart(
    tr: &Tr,
    id: usize,
    key: &str,
    count: fn(&MonthCounts) -> u64,
    months: &[MonthCounts],
) -> Chart {
    // Small counts are not drawn (a bar's height would tell them).
    let drawn = |m: &MonthCounts| shown_count(count(m)).unwrap_or(0);
    let max = months.iter().map(drawn).max().unwrap_or(0).max(1);
    let bars = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let v = drawn(m);
            let height = u32::try_from(v * u64::from(CHART_H - 20) / max).unwrap_or(0);
            let y = CHART_H - height;
            Bar {
                x: u32::try_from(i).unwrap_or(0) * STEP + 4,
                y,
                height,
                label: shown(count(m)),
                label_y: y.saturating_sub(4).max(10),
                mid: u32::try_from(i).unwrap_or(0) * STEP + 4 + BAR_W / 2,
                month: month_name(tr, m.month),
            }
        })
        .collect();
    Chart {
        id: format!("graphique-{id}"),
        title: tr.t(key),
        bars,
        bar_w: BAR_W,
    }
}

#[derive(Template)]
#[template(path = "pro/report.html")]
struct ReportPage {
    c: Ctx,
    heads: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
    charts: Vec<Chart>,
    width: u32,
}

async fn counts(state: &AppState, cw: &Caseworker) -> PageResult<Vec<MonthCounts>> {
    if !cw.admin {
        return Err(PageError::NotFound);
    }
    Ok(state.vault.activity_report(&cw.session, MONTHS).await?)
}

async fn report(State(state): State<AppState>, cw: Caseworker) -> PageResult<Response> {
    let months = counts(&state, &cw).await?;
    let tr = cw.tr;
    Ok(ok(&ReportPage {
        c: Ctx::caseworker(&cw, &state, "pro-report-title", "rapport"),
        heads: measures().iter().map(|(k, _, _)| tr.t(k)).collect(),
        rows: months
            .iter()
            .map(|m| {
                (
                    month_name(&tr, m.month),
                    measures().iter().map(|(_, _, f)| shown(f(m))).collect(),
                )
            })
            .collect(),
        charts: measures()
            .iter()
            .enumerate()
            .map(|(i, (k, _, f))| chart(&tr, i, k, *f, &months))
            .collect(),
        width: u32::try_from(months.len()).unwrap_or(12) * STEP + 8,
    }))
}

/// The same figures for a spreadsheet (UTF-8, comma-separated, "< 5" as
/// written).
async fn csv(State(state): State<AppState>, cw: Caseworker) -> PageResult<Response> {
    let months = counts(&state, &cw).await?;
    let mut out = String::from("mois");
    for (_, col, _) in measures() {
        out.push(',');
        out.push_str(col);
    }
    out.push('\n');
    for m in &months {
        out.push_str(&format!("{:04}-{:02}", m.month.0, m.month.1));
        for (_, _, f) in measures() {
            out.push(',');
            out.push_str(&shown(f(m)));
        }
        out.push('\n');
    }
    let mut r = out.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"rapport-activite.csv\""),
    );
    Ok(r)
}
