//! Looking at a page as a reader does: headless Chromium (Debian's `chromium`) loads it in a
//! frame of a phone's or a desktop's width and reports what is on screen. Screenshots go to
//! `target/screenshots/` (not in git) for a person to open.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a reader sees of a page at one width.
#[derive(Debug)]
pub struct Seen {
    /// Width of the page's content; more than `width` means horizontal scrolling.
    pub scroll_width: f64,
    pub width: f64,
    pub height: f64,
    /// Height of the whole page: how far a reader scrolls.
    pub scroll_height: f64,
    /// Top of the first element matching the selector asked for (`None`: not found).
    pub first_top: Option<f64>,
    /// Bottom of that element.
    pub first_bottom: Option<f64>,
    /// The page's visible text.
    pub text: String,
}

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("no Chromium found: `apt-get install -y chromium` (scripts/test installs it)");
}

/// Loads `page` in a `width` × `height` frame and measures it; `first` is a CSS selector whose
/// first match's position is reported.
pub fn look(page: &Path, width: u32, height: u32, first: &str, screenshot: &str) -> Seen {
    let dir = page.parent().unwrap();
    let host = dir.join(format!("host-{width}.html"));
    let name = page.file_name().unwrap().to_string_lossy();
    std::fs::write(
        &host,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{name}" style="width:{width}px;height:{height}px;border:0"></iframe>
<script>
document.getElementById('f').onload = function () {{
  var w = this.contentWindow, d = this.contentDocument;
  var el = d.querySelector({first:?});
  var seen = {{
    scroll_width: d.documentElement.scrollWidth,
    scroll_height: d.documentElement.scrollHeight,
    width: w.innerWidth,
    height: w.innerHeight,
    first_top: el ? el.getBoundingClientRect().top : null,
    first_bottom: el ? el.getBoundingClientRect().bottom : null,
    text: d.body.innerText
  }};
  var pre = document.createElement('pre');
  pre.id = 'seen';
  pre.textContent = JSON.stringify(seen);
  document.body.appendChild(pre);
}};
</script></body></html>"#
        ),
    )
    .unwrap();
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
    ];
    let url = format!("file://{}", host.display());
    let out = Command::new(chromium())
        .args(base)
        .arg(format!(
            "--window-size={},{}",
            width.max(500) + 20,
            height + 20
        ))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"seen\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "chromium reported nothing for {}: {}",
                page.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let json = html_unescape(json);
    let v: Value = serde_json::from_str(&json).unwrap();
    // A picture for people, not for the assertions.
    let shots = screenshots();
    let _ = Command::new(chromium())
        .args(base)
        .arg(format!("--window-size={},{}", width.max(500), height))
        .arg(format!(
            "--screenshot={}",
            shots.join(format!("{screenshot}-{width}.png")).display()
        ))
        .arg(&url)
        .output();
    // And as a reader with a dark system theme sees it (`prefers-color-scheme: dark`).
    let _ = Command::new(chromium())
        .args(base)
        .args([
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
        ])
        .arg(format!("--window-size={},{}", width.max(500), height))
        .arg(format!(
            "--screenshot={}",
            shots
                .join(format!("{screenshot}-{width}-dark.png"))
                .display()
        ))
        .arg(&url)
        .output();
    Seen {
        scroll_width: v["scroll_width"].as_f64().unwrap(),
        width: v["width"].as_f64().unwrap(),
        height: v["height"].as_f64().unwrap(),
        scroll_height: v["scroll_height"].as_f64().unwrap(),
        first_top: v["first_top"].as_f64(),
        first_bottom: v["first_bottom"].as_f64(),
        text: v["text"].as_str().unwrap_or_default().to_string(),
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

pub fn screenshots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}
