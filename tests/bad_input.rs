//! Bad input never panics: each case gives one clear line on stderr naming the file and the problem, exit 2.

mod common;

use common::*;
use serde_json::json;

fn simple() -> Img {
    Img::new(
        "s:1",
        vec![
            layer(&[file("a", &[b'a'; 2000])]),
            layer(&[file("b", b"bb")]),
        ],
    )
}

fn replace(files: &mut [(String, Vec<u8>)], name_ends: &str, f: impl Fn(&[u8]) -> Vec<u8>) {
    let entry = files
        .iter_mut()
        .find(|(n, _)| n.ends_with(name_ends))
        .unwrap();
    entry.1 = f(&entry.1);
}

#[test]
fn files_that_are_not_images_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "an empty file"),
        (
            "json",
            b"{\"not\": \"an image\"}".to_vec(),
            "a JSON document",
        ),
        (
            "elf",
            b"\x7fELF\x02\x01\x01rest of a binary".to_vec(),
            "an ELF executable",
        ),
        (
            "random",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "neither a tar",
        ),
        (
            "gz",
            compress(b"just some text", Comp::Gzip),
            "gzip-compressed data that is not a tar",
        ),
        (
            "zst",
            compress(b"just some text", Comp::Zstd),
            "zstd-compressed data that is not a tar",
        ),
    ];
    for (name, data, needle) in cases {
        let path = write_file(dir.path(), name, &data);
        let out = run(&[&path]);
        assert_bad_input(&out, needle);
        assert!(stderr_line(&out).contains("supported:"), "{name}");
    }
    assert_bad_input(
        &run(&[dir.path().join("nope").to_str().unwrap()]),
        "no such file",
    );
    let empty_dir = tempfile::tempdir().unwrap();
    assert_bad_input(
        &run(&[empty_dir.path().to_str().unwrap()]),
        "not a container image",
    );
}

#[test]
fn a_tar_that_is_not_an_image_says_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "t.tar",
        &tar_files(&[("hello.txt".into(), b"hi".to_vec())]),
    );
    assert_bad_input(&run(&[&path]), "hello.txt");
}

#[test]
fn truncated_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let full = tar_files(&docker_legacy(&[simple()]));
    for cut in [700, full.len() / 2, full.len() - 1500] {
        let path = write_file(dir.path(), "cut.tar", &full[..cut]);
        let out = run(&[&path]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "cut at {cut}: {}",
            stderr_line(&out)
        );
        assert!(!stderr_line(&out).contains("panicked"));
        assert_eq!(stderr_line(&out).lines().count(), 1);
    }
    // The same through a compressed stream.
    let gz = compress(&full, Comp::Gzip);
    let path = write_file(dir.path(), "cut.tgz", &gz[..gz.len() / 2]);
    let out = run(&[&path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr_line(&out).contains("panicked"));
}

#[test]
fn corrupt_layer_data_names_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = oci_layout(&[simple()], Comp::Gzip);
    // Corrupt the first layer's gzip body (keep the magic).
    let first_layer = files
        .iter()
        .position(|(n, d)| n.starts_with("blobs/") && d.starts_with(&[0x1f, 0x8b]) && d.len() > 40)
        .unwrap();
    let data = &mut files[first_layer].1;
    for b in data.iter_mut().skip(12).take(20) {
        *b ^= 0x5a;
    }
    let path = write_file(dir.path(), "corrupt.tar", &tar_files(&files));
    let out = run(&["--no-verify", &path]);
    assert_bad_input(&out, "gzip layer");
    assert!(
        stderr_line(&out).contains("layer "),
        "{}",
        stderr_line(&out)
    );
}

#[test]
fn missing_pieces_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = docker_legacy(&[simple()]);

    let no_config: Vec<_> = base
        .iter()
        .filter(|(n, _)| !n.ends_with(".json") || n == "manifest.json")
        .cloned()
        .collect();
    assert_bad_input(
        &run(&[&write_file(dir.path(), "a.tar", &tar_files(&no_config))]),
        ".json is missing",
    );

    let no_layer: Vec<_> = base
        .iter()
        .filter(|(n, _)| !n.ends_with("layer.tar"))
        .cloned()
        .collect();
    assert_bad_input(
        &run(&[&write_file(dir.path(), "b.tar", &tar_files(&no_layer))]),
        "layer.tar is missing",
    );

    let mut bad_json = base.clone();
    replace(&mut bad_json, "manifest.json", |_| {
        b"[{\"Config\": ".to_vec()
    });
    assert_bad_input(
        &run(&[&write_file(dir.path(), "c.tar", &tar_files(&bad_json))]),
        "manifest.json: malformed JSON",
    );

    let mut wrong_shape = base.clone();
    replace(&mut wrong_shape, "manifest.json", |_| {
        b"{\"hello\": 1}".to_vec()
    });
    assert_bad_input(
        &run(&[&write_file(dir.path(), "d.tar", &tar_files(&wrong_shape))]),
        "manifest.json: malformed JSON",
    );

    let mut oci = oci_layout(&[simple()], Comp::Gzip);
    oci.retain(|(n, d)| !(n.starts_with("blobs/") && d.starts_with(&[0x1f, 0x8b])));
    assert_bad_input(
        &run(&[&write_file(dir.path(), "e.tar", &tar_files(&oci))]),
        "is missing (layer 0)",
    );

    let mut bad_index = oci_layout(&[simple()], Comp::Gzip);
    replace(&mut bad_index, "index.json", |_| {
        serde_json::to_vec(&json!({"manifests": [{"digest": "sha256:../../../etc/passwd"}]}))
            .unwrap()
    });
    assert_bad_input(
        &run(&[&write_file(dir.path(), "f.tar", &tar_files(&bad_index))]),
        "malformed digest",
    );
}

#[test]
fn digest_mismatches_are_errors_unless_no_verify() {
    let dir = tempfile::tempdir().unwrap();
    // A layer whose content no longer matches the config's diff_id.
    let mut files = docker_legacy(&[simple()]);
    let other = layer(&[file("a", &[b'z'; 2000])]);
    let target = files
        .iter()
        .position(|(n, _)| n.ends_with("layer.tar"))
        .unwrap();
    files[target].1 = other;
    let path = write_file(dir.path(), "m.tar", &tar_files(&files));
    let out = run(&[&path]);
    assert_bad_input(&out, "layer 0");
    assert!(
        stderr_line(&out).contains("diff_id"),
        "{}",
        stderr_line(&out)
    );
    let r = json_of(&["--no-verify", "--json", "-", &path]);
    assert_eq!(r["image"]["layer_count"], 2);
    // Every check left out is named, in JSON and in the summary; none when verifying.
    assert_eq!(
        r["verification"]["skipped"],
        json!(["manifest and config digests", "layer digests", "diff_ids"])
    );
    let text = String::from_utf8(run(&["--no-verify", &path]).stdout).unwrap();
    assert!(
        text.contains(
            "Unverified  manifest and config digests, layer digests, diff_ids (--no-verify)"
        ),
        "{text}"
    );
    let good = write_file(
        dir.path(),
        "good.tar",
        &tar_files(&docker_legacy(&[simple()])),
    );
    assert_eq!(
        json_of(&["--json", "-", &good])["verification"]["skipped"],
        json!([])
    );
    assert!(
        !String::from_utf8(run(&[&good]).stdout)
            .unwrap()
            .contains("Unverified")
    );

    // An OCI blob whose bytes do not match its descriptor.
    let mut oci = oci_layout(&[simple()], Comp::None);
    let img = simple();
    let victim = format!("blobs/sha256/{}", hexof(&sha256(&img.layers[1])));
    replace(&mut oci, &victim, |_| layer(&[file("b", b"BB")]));
    let path = write_file(dir.path(), "o.tar", &tar_files(&oci));
    let out = run(&[&path]);
    assert_bad_input(&out, "its descriptor says");
    assert!(run(&["--no-verify", &path]).status.success());

    // A tampered config.
    let mut oci = oci_layout(&[simple()], Comp::None);
    let config = format!("blobs/sha256/{}", hexof(&sha256(&img.config())));
    replace(&mut oci, &config, |d| {
        let mut v: serde_json::Value = serde_json::from_slice(d).unwrap();
        v["os"] = json!("plan9");
        serde_json::to_vec(&v).unwrap()
    });
    assert_bad_input(
        &run(&[&write_file(dir.path(), "p.tar", &tar_files(&oci))]),
        "its descriptor says",
    );
}

#[test]
fn layer_count_mismatch_between_config_and_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = simple();
    let config = img.config();
    img.layers.push(layer(&[file("extra", b"1")]));
    let mut files = docker_legacy(&[img]);
    // Put back the two-layer config under a name that implies no digest.
    let cfg = files
        .iter()
        .position(|(n, _)| n.ends_with(".json") && n != "manifest.json")
        .unwrap();
    let old_name = std::mem::replace(&mut files[cfg], ("config.json".into(), config)).0;
    replace(&mut files, "manifest.json", |m| {
        String::from_utf8_lossy(m)
            .replace(&old_name, "config.json")
            .into_bytes()
    });
    let path = write_file(dir.path(), "n.tar", &tar_files(&files));
    assert_bad_input(&run(&[&path]), "diff_ids");
}

#[test]
fn usage_errors_exit_2() {
    assert_bad_input(&run(&[]), "no IMAGE given");
    let out = run(&["--bogus-flag", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "s.tar", &tar_files(&docker_legacy(&[simple()])));
    assert_bad_input(
        &run(&["ls", &path, "--layer", "9"]),
        "the image has 2 layers",
    );
    assert_bad_input(
        &run(&["--ci", "--max-wasted-bytes", "lots", &path]),
        "--max-wasted-bytes",
    );
    assert_bad_input(
        &run(&["--ci", "--min-efficiency", "2", &path]),
        "--min-efficiency",
    );
    assert_bad_input(&run(&["cat", &path, "/nope"]), "not in any layer");
}

#[test]
fn sha512_digests_are_refused_unless_no_verify() {
    use sha2::{Digest, Sha512};
    let dir = tempfile::tempdir().unwrap();
    let img = simple();
    let mut files = vec![(
        "oci-layout".to_string(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    let mut add512 = |honest: &[u8], stored: Vec<u8>| {
        let hex = hex::encode(Sha512::digest(honest));
        files.push((format!("blobs/sha512/{hex}"), stored));
        format!("sha512:{hex}")
    };
    // Every blob named by a sha512 digest, and every one tampered: nothing here matches what it is named by.
    let tampered_layer = layer(&[file("a", b"evil")]);
    let mut evil = img.clone();
    evil.layers[0] = tampered_layer.clone();
    let config = add512(&img.config(), evil.config());
    let layers: Vec<_> = evil
        .layers
        .iter()
        .zip(&img.layers)
        .map(|(stored, honest)| {
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                   "digest": add512(honest, stored.clone()), "size": stored.len()})
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 1},
        "layers": layers,
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest);
    files.push((
        format!("blobs/sha256/{}", hexof(&manifest_digest)),
        manifest,
    ));
    files.push((
        "index.json".into(),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": 1,
             "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .unwrap(),
    ));
    let path = write_file(dir.path(), "sha512.tar", &tar_files(&files));
    let out = run(&["cat", &path, "/a"]);
    assert!(out.stdout.is_empty());
    assert_bad_input(&out, "sha512 digest, which layerscope does not verify");
    let out = run(&["cat", &path, "/a", "--no-verify"]);
    assert_eq!(out.stdout, b"evil", "{}", stderr_line(&out));
}
