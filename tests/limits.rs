//! Bounded work on small inputs: each limit stops a crafted input with one line naming the limit and the flag
//! that raises it, and the flag lets the same input through.

mod common;

use common::*;
use layerscope::limits::Limits;

/// Writes `files` as a plain tar and as a .tar.gz (the first read in place, the second as a stream).
fn both_forms(dir: &std::path::Path, name: &str, files: &[(String, Vec<u8>)]) -> [String; 2] {
    let tar = tar_files(files);
    [
        write_file(dir, &format!("{name}.tar"), &tar),
        write_file(dir, &format!("{name}.tar.gz"), &compress(&tar, Comp::Gzip)),
    ]
}

/// A 2 MiB file name, in a layer and as an archive member: past the 1 MiB default everywhere a tar is read.
#[test]
fn long_names_past_the_limit_are_refused_by_every_tar_reader() {
    let dir = tempfile::tempdir().unwrap();
    let long = "n".repeat(2 << 20);
    let in_layer = docker25(&Img::new(
        "long:1",
        vec![layer(&[Ent::Named(long.clone(), b"x".to_vec())])],
    ));
    let mut as_member = docker25(&Img::new("member:1", vec![layer(&[file("a", b"a")])]));
    as_member.push((long.clone(), b"{}".to_vec()));
    for (name, files) in [("in_layer", &in_layer), ("as_member", &as_member)] {
        for image in both_forms(dir.path(), name, files) {
            let out = run(&["ls", &image]);
            assert_bad_input(&out, "a GNU long name of 2097153 bytes");
            assert!(stderr_line(&out).contains("--max-header-bytes raises it"));
            // In a layer, the name is then an entry path longer than PATH_MAX: its own limit.
            let out = run(&["ls", &image, "--max-header-bytes", "3MiB"]);
            if name == "in_layer" {
                assert_bad_input(&out, "an entry path of 2097152 bytes");
                assert!(stderr_line(&out).contains("--max-path-bytes raises it"));
            } else {
                assert!(out.status.success(), "{image}: {}", stderr_line(&out));
            }
            let out = run(&[
                "ls",
                &image,
                "--max-header-bytes",
                "3MiB",
                "--max-path-bytes",
                "3MiB",
            ]);
            assert!(out.status.success(), "{image}: {}", stderr_line(&out));
        }
    }
    let [tar, _] = both_forms(dir.path(), "in_layer", &in_layer);
    let out = run(&[
        "ls",
        &tar,
        "--max-header-bytes",
        "3MiB",
        "--max-path-bytes",
        "3MiB",
        "--json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["path"].as_str().unwrap().len(), long.len() + 1);
}

/// Many small members of a stream: each is kept in memory, so their count and bytes are bounded.
#[test]
fn a_stream_keeps_bounded_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = docker25(&Img::new("meta:1", vec![layer(&[file("a", b"a")])]));
    for i in 0..300 {
        files.push((format!("extra/{i}.json"), vec![b' '; 1024]));
    }
    let [_, stream] = both_forms(dir.path(), "meta", &files);
    assert!(run(&["ls", &stream]).status.success());
    let out = run(&["ls", &stream, "--max-metadata-bytes", "100KiB"]);
    assert_bad_input(&out, "--max-metadata-bytes raises it");
    assert!(stderr_line(&out).contains("over the limit of 102400 bytes"));
    let out = run(&["ls", &stream, "--max-archive-members", "50"]);
    assert_bad_input(&out, "more than 50 members");
    assert!(stderr_line(&out).contains("--max-archive-members raises it"));
}

/// 16 MiB of zeros in a few kilobytes of zstd, as a layer and as the whole archive: past the ratio (of at least
/// 1 MiB), reading stops.
#[test]
fn zstd_bombs_stop_at_the_expansion_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 16 << 20];
    let img = Img::new("bomb:1", vec![layer(&[file("zeros", &zeros)])]);
    let files = oci_layout(std::slice::from_ref(&img), Comp::Zstd);
    let layout = write_file(dir.path(), "layer-bomb.tar", &tar_files(&files));
    let plain = docker25(&Img::new("plain:1", vec![layer(&[file("a", b"a")])]));
    let mut padded = plain.clone();
    padded.push(("padding".into(), zeros.clone()));
    let whole = write_file(
        dir.path(),
        "whole-bomb.tar.zst",
        &compress(&tar_files(&padded), Comp::Zstd),
    );
    for (image, needle) in [(&layout, "layer 0"), (&whole, "whole-bomb")] {
        let out = run(&["ls", image, "--max-expansion-ratio", "4"]);
        assert_bad_input(&out, "zstd data expanded");
        assert!(stderr_line(&out).contains(needle), "{}", stderr_line(&out));
        assert!(stderr_line(&out).contains("--max-expansion-ratio raises it"));
        assert!(run(&["ls", image]).status.success());
    }
}

/// The defaults the help shows are the library's.
#[test]
fn help_shows_the_library_defaults() {
    let out = run(&["ls", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let limits = Limits::default();
    for (flag, shown, value) in [
        ("--max-header-bytes", "1MiB", limits.header_bytes),
        ("--max-metadata-bytes", "256MiB", limits.metadata_bytes),
        ("--max-archive-members", "100000", limits.archive_members),
        ("--max-expansion-ratio", "2000", limits.expansion_ratio),
        ("--max-path-bytes", "4KiB", limits.path_bytes),
    ] {
        let from = help.find(flag).unwrap_or_else(|| panic!("{flag} missing"));
        let text = &help[from..];
        let text = &text[text.find("[default: ").unwrap()..];
        assert!(
            text.starts_with(&format!("[default: {shown}]")),
            "{flag}: {text}"
        );
        assert_eq!(
            layerscope::units::parse_size(shown).unwrap(),
            value,
            "{flag}"
        );
    }
}

/// A sparse entry may claim nearly 2^64 bytes: summed with another file's, the wasted bytes wrapped to 1 MiB
/// and the gate passed. A total that overflows fails every rule that depends on it, saying why.
#[test]
fn a_gate_never_passes_on_an_overflowed_total() {
    let dir = tempfile::tempdir().unwrap();
    let claimed = u64::MAX - (1 << 20) + 1;
    let img = Img::new(
        "overflow:1",
        vec![
            layer(&[
                Ent::Sparse("huge", claimed),
                file("w", &vec![b'w'; 2 << 20]),
            ]),
            layer(&[Ent::Whiteout("huge"), Ent::Whiteout("w")]),
        ],
    );
    let image = write_file(dir.path(), "overflow.tar", &tar_files(&docker25(&img)));
    let out = run_in(
        dir.path(),
        &[
            &image,
            "--ci",
            "--max-wasted-bytes",
            "10MB",
            "--min-efficiency",
            "disabled",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr_line(&out));
    let rule = text
        .lines()
        .find(|l| l.contains("max-wasted-bytes"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(rule.contains("FAIL"), "{rule}");
    assert!(rule.contains("the wasted bytes"), "{rule}");
    assert!(rule.contains("overflowed 64 bits"), "{rule}");
    let ls = json_of(&["ls", &image, "--layer", "0", "--json"]);
    let huge = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/huge")
        .unwrap();
    assert_eq!(huge["size"].as_u64(), Some(claimed));
}
