//! The HTML report as a person sees it: a real `qualify --report` bundle is
//! opened in headless Chromium (Debian's chromium, installed by
//! scripts/install-test-deps). The DOM Chromium builds must hold every plot
//! as inline SVG, and the screenshot must show them: the plots' blue lines
//! and bars cover a real area of the page, not a blank or broken render.

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium on `page` with `args`; returns stdout.
fn chromium(page: &Path, profile: &Path, args: &[&str]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} missing: run scripts/install-test-deps (apt-get install chromium)"
    );
    let out = Command::new("timeout")
        .arg("90")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pixels of an RGB(A) PNG that are plot blue (plotters' BLUE and its mixes).
fn blue_pixels(png_path: &Path) -> (usize, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()].chunks(channels);
    let total = (info.width * info.height) as usize;
    let blue = pixels
        .filter(|p| p[2] > 180 && p[0] < 130 && p[1] < 130)
        .count();
    (blue, total)
}

#[test]
fn chromium_renders_the_report_with_its_plots() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let out = Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args(["qualify", "--ops", "500", "--dir"])
        .arg(dir.path())
        .arg("--report")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = bundle.join("report.html");
    let profile = dir.path().join("chromium-profile");

    let dom = chromium(&page, &profile, &["--dump-dom"]);
    assert_eq!(
        dom.matches("<svg").count(),
        12,
        "3 plots per disk probe (fsync, wal, backend, paced) in the DOM"
    );
    assert!(dom.contains("fsync latency CDF") && dom.contains("backend latency over time"));
    assert!(dom.contains("paced latency over time"));

    let shot = dir.path().join("report.png");
    chromium(
        &page,
        &profile,
        &[
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let (blue, total) = blue_pixels(&shot);
    assert!(
        blue > total / 200,
        "only {blue} of {total} pixels are plot blue: the plots did not render"
    );
}
