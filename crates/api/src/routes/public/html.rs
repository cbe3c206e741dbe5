//! The status page's HTML (maud, compiled in): semantic landmarks and headings, every state in
//! words (never by colour alone), a tooltip per day through `title`, inline CSS and one small
//! inline script that refreshes the page's data; no external asset, so it renders offline and
//! works without JavaScript.

use super::badge::percent;
use super::data::{PublicDay, PublicMonitor, PublicPage};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The page's style sheet (inline; its hash is in the page's Content-Security-Policy).
pub(crate) const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--card:#f6f8fa;--line:#d1d9e0;--ok:#1a7f37;--okbg:#dafbe1;--warn:#9a6700;--warnbg:#fff8c5;--bad:#cf222e;--badbg:#ffebe9;--none:#d1d9e0}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
header,main,footer{max-width:56rem;margin:0 auto;padding:1rem 1.25rem}
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}header img{max-height:3rem;max-width:12rem}
h1{font-size:1.75rem;margin:.25rem 0}h2{font-size:1.25rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:0}
.desc{color:var(--muted);margin:0;white-space:pre-line;flex-basis:100%}
.banner{padding:1rem 1.25rem;border-radius:.5rem;font-size:1.25rem;font-weight:600;margin:0;border:1px solid}
.s-operational{background:var(--okbg);color:var(--ok)}.s-degraded{background:var(--warnbg);color:var(--warn)}
.s-partial_outage,.s-major_outage{background:var(--badbg);color:var(--bad)}.s-unknown{background:var(--card);color:var(--muted)}
.updated{color:var(--muted);font-size:.875rem}
ul.monitors{list-style:none;padding:0;margin:0;border:1px solid var(--line);border-radius:.5rem}
.monitor{padding:1rem;border-top:1px solid var(--line)}.monitor:first-child{border-top:0}
.row{display:flex;justify-content:space-between;gap:1rem;align-items:baseline;flex-wrap:wrap}
.status{font-weight:600;font-size:.875rem;padding:.1rem .5rem;border-radius:1rem}
.m-up{background:var(--okbg);color:var(--ok)}.m-degraded{background:var(--warnbg);color:var(--warn)}
.m-down{background:var(--badbg);color:var(--bad)}.m-pending,.m-paused{background:var(--card);color:var(--muted)}
.bars{display:flex;gap:2px;height:2rem;margin:.75rem 0 .25rem}.bar{flex:1;border-radius:2px;background:var(--none)}
.d-ok{background:#2da44e}.d-slow{background:#bf8700}.d-partial{background:#d4a72c}.d-major{background:var(--bad)}
.legend,.meta{display:flex;justify-content:space-between;color:var(--muted);font-size:.8125rem;gap:1rem;flex-wrap:wrap}
.spark{vertical-align:middle}
article.incident{border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:.75rem 0}
article.open{border-color:var(--bad)}ol.timeline{margin:.5rem 0 0;padding-left:1.25rem}
footer{color:var(--muted);font-size:.875rem}a{color:#0550ae}
"#;

/// The page's script (inline; its hash is in the page's Content-Security-Policy). It polls the
/// JSON every 30 s and, when the data changed, swaps in the freshly rendered `<main>`; it also
/// listens on the page's event stream when the API has one, and copes with its absence.
pub(crate) const SCRIPT: &str = r#"
(function () {
  var body = document.body, slug = body.getAttribute('data-slug'), busy = false;
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var fresh = doc.getElementById('main'), old = document.getElementById('main');
    if (fresh && old) {
      old.replaceWith(document.importNode(fresh, true));
      body.setAttribute('data-generated', doc.body.getAttribute('data-generated') || '');
    }
  }
  function refresh() {
    if (busy) return;
    busy = true;
    fetch('/status/' + slug + '.json', { cache: 'no-cache', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('status ' + r.status); return r.json(); })
      .then(function (data) {
        if (data.generated_at === body.getAttribute('data-generated')) return;
        return fetch('/status/' + slug, { cache: 'no-cache' })
          .then(function (r) { if (!r.ok) throw new Error('status ' + r.status); return r.text(); })
          .then(swap);
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(refresh, 30000);
  if (window.EventSource) {
    try {
      var events = new EventSource('/status/' + slug + '/events');
      events.addEventListener('status', refresh);
      events.addEventListener('incident', refresh);
      events.onerror = function () { if (events.readyState === 2) events.close(); };
    } catch (e) {}
  }
})();
"#;

/// `t` for people: `6 Dec 2026, 14:03 UTC`.
fn when(rfc3339: &str) -> String {
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_else(|| rfc3339.to_string())
}

fn day_class(d: &PublicDay) -> &'static str {
    match d.uptime_percent {
        None => "bar",
        Some(_) if d.failures == 0 && d.degraded > 0 => "bar d-slow",
        Some(_) if d.failures == 0 => "bar d-ok",
        Some(p) if p >= 95.0 => "bar d-partial",
        Some(_) => "bar d-major",
    }
}

fn day_title(d: &PublicDay) -> String {
    let date = time::Date::parse(&d.date, time::macros::format_description!("[year]-[month]-[day]"))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[day padding:none] [month repr:short] [year]")).ok()
        })
        .unwrap_or_else(|| d.date.clone());
    match d.uptime_percent {
        None => format!("{date}: no data"),
        Some(p) => {
            let mut s =
                format!("{date}: {} uptime, {} of {} checks failed", percent(p), d.failures, d.checks);
            if d.degraded > 0 {
                s.push_str(&format!(", {} slow", d.degraded));
            }
            s
        }
    }
}

/// The response-time sparkline: an inline SVG polyline over the hours with data.
fn sparkline(m: &PublicMonitor) -> Markup {
    let points: Vec<(usize, f64)> =
        m.response_time_ms.iter().enumerate().filter_map(|(i, h)| h.mean_ms.map(|v| (i, v))).collect();
    let (w, h) = (120.0, 24.0);
    let max = points.iter().map(|p| p.1).fold(1.0, f64::max);
    let mean = if points.is_empty() {
        None
    } else {
        Some(points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64)
    };
    let label = match mean {
        Some(v) => format!("Response time over the last 24 hours: {v:.0} ms on average, {max:.0} ms at most"),
        None => "Response time over the last 24 hours: no data".to_string(),
    };
    let line: String = points
        .iter()
        .map(|(i, v)| format!("{:.1},{:.1}", *i as f64 * w / 23.0, h - 2.0 - (v / max) * (h - 4.0)))
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        svg class="spark" width="120" height="24" viewBox="0 0 120 24" role="img" aria-label=(label) {
            title { (label) }
            @if points.len() > 1 {
                polyline points=(line) fill="none" stroke="#0550ae" stroke-width="1.5" {}
            } @else if let Some((i, v)) = points.first() {
                circle cx=(format!("{:.1}", *i as f64 * w / 23.0)) cy=(format!("{:.1}", h - 2.0 - (v / max) * (h - 4.0))) r="2" fill="#0550ae" {}
            }
        }
        span { @if let Some(v) = mean { (format!("{v:.0} ms")) } @else { "no response data" } }
    }
}

fn monitor(m: &PublicMonitor) -> Markup {
    let d90 = m.uptime_percent.d90.map_or("no data".to_string(), percent);
    html! {
        li class="monitor" data-public-id=(m.public_id) {
            div class="row" {
                h3 { (m.name) }
                span class={"status m-" (m.status)} { (m.status_label) }
            }
            div class="bars" role="img" aria-label={"Uptime over the last 90 days: " (d90)} {
                @for d in &m.days { span class=(day_class(d)) title=(day_title(d)) {} }
            }
            div class="legend" aria-hidden="true" { span { "90 days ago" } span { (d90) " uptime" } span { "Today" } }
            div class="meta" {
                span { "Last 24 hours: " (m.uptime_percent.h24.map_or("no data".to_string(), percent)) " uptime" }
                span { (sparkline(m)) }
            }
        }
    }
}

/// The whole page.
pub(crate) fn render(p: &PublicPage) -> String {
    let open = p.incidents.iter().filter(|i| i.state == "open").count();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.title) " status" }
                @if !p.description.is_empty() { meta name="description" content=(p.description); }
                style { (PreEscaped(STYLE)) }
            }
            body data-slug=(p.slug) data-generated=(p.generated_at) {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    @if let Some(logo) = &p.logo_url { img src=(logo) alt={(p.title) " logo"} referrerpolicy="no-referrer"; }
                    h1 { (p.title) }
                    @if !p.description.is_empty() { p class="desc" { (p.description) } }
                }
                main id="main" {
                    section aria-labelledby="overall" {
                        h2 id="overall" class={"banner s-" (p.state)} { (p.state_label) }
                        p class="updated" { "Updated " time datetime=(p.generated_at) { (when(&p.generated_at)) } }
                    }
                    @for (i, s) in p.sections.iter().enumerate() {
                        section aria-labelledby={"section-" (i)} {
                            h2 id={"section-" (i)} { (s.name) }
                            ul class="monitors" { @for m in &s.monitors { (monitor(m)) } }
                        }
                    }
                    section aria-labelledby="incidents" {
                        h2 id="incidents" { "Incidents" }
                        @if p.incidents.is_empty() {
                            p { "No incidents in the last 30 days." }
                        } @else {
                            @if open == 0 { p { "No current incidents." } }
                            @for inc in &p.incidents {
                                article class={"incident " (inc.state)} {
                                    h3 {
                                        (inc.monitor) ": "
                                        @if inc.state == "open" { "ongoing outage" } @else { "outage, resolved" }
                                    }
                                    ol class="timeline" {
                                        @for e in &inc.timeline {
                                            li { time datetime=(e.at) { (when(&e.at)) } " — " (e.text) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                footer {
                    p { "Powered by Upcheck · " a href={"/status/" (p.slug) ".json"} { "This page as JSON" } }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}
