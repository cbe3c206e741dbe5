//! Shields-style flat SVG badges: a grey label on the left, a coloured message on the right.
//! Both texts are fixed words or numbers made here, and escaped all the same.

/// Badge colours (shields.io's palette).
pub(crate) const GREEN: &str = "#4c1";
pub(crate) const YELLOW_GREEN: &str = "#a4a61d";
pub(crate) const YELLOW: &str = "#dfb317";
pub(crate) const RED: &str = "#e05d44";
pub(crate) const GREY: &str = "#9f9f9f";

/// Approximate width in px of `s` in 11 px Verdana (shields' font), per character class.
fn text_width(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | '\'' | '|' | '!' => 4,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '-' => 5,
            'm' | 'w' | 'M' | 'W' | '%' => 10,
            'A'..='Z' => 8,
            _ => 7,
        })
        .sum()
}

/// The badge SVG: `label` on grey, `message` on `color`.
pub(crate) fn svg(label: &str, message: &str, color: &str) -> String {
    let (lw, mw) = (text_width(label) + 10, text_width(message) + 10);
    let w = lw + mw;
    let (label, message) = (html_escape(label), html_escape(message));
    let (lx, mx) = (lw * 5, lw * 10 + mw * 5);
    let (ltl, mtl) = ((lw - 10) * 10, (mw - 10) * 10);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {message}"><title>{label}: {message}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{ltl}">{label}</text><text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{label}</text><text aria-hidden="true" x="{mx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{mtl}">{message}</text><text x="{mx}" y="140" transform="scale(.1)" fill="#fff" textLength="{mtl}">{message}</text></g></svg>"##
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The colour of an uptime percentage: green from 99.9 %, yellow-green from 99 %, yellow from
/// 95 %, red below; grey without data.
pub(crate) fn uptime_color(percent: Option<f64>) -> &'static str {
    match percent {
        None => GREY,
        Some(p) if p >= 99.9 => GREEN,
        Some(p) if p >= 99.0 => YELLOW_GREEN,
        Some(p) if p >= 95.0 => YELLOW,
        Some(_) => RED,
    }
}

/// A percentage with at most two decimals, never rounded up to 100 (`99.999` is `99.99`).
pub(crate) fn percent(p: f64) -> String {
    let floored = (p * 100.0).floor() / 100.0;
    let s = format!("{floored:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_two_decimals_and_never_round_up_to_a_hundred() {
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(99.999), "99.99%");
        assert_eq!(percent(99.5), "99.5%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn a_badge_names_its_label_and_message_and_escapes_them() {
        let s = svg("status", "<up>", GREEN);
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.contains("aria-label=\"status: &lt;up&gt;\""));
        assert!(!s.contains("<up>"));
        assert!(s.contains(GREEN));
    }
}
