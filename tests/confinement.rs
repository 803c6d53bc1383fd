//! Nothing outside the input is read through it: a layout directory or an engine store whose files are symlinks
//! out, FIFOs or devices is refused with one clear line, never followed, never hung on.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::*;

fn simple() -> Img {
    Img::new(
        "s:1",
        vec![layer(&[file("a", b"aaa")]), layer(&[file("b", b"bb")])],
    )
}

/// The layout's first layer blob, replaced by whatever `make` puts at its path.
fn layout_with_layer(dir: &Path, make: impl FnOnce(&Path)) -> String {
    let img = simple();
    let root = dir.join("layout");
    write_dir(&oci_layout(std::slice::from_ref(&img), Comp::None), &root);
    let blob = root.join(format!("blobs/sha256/{}", hexof(&sha256(&img.layers[0]))));
    std::fs::remove_file(&blob).unwrap();
    make(&blob);
    root.to_string_lossy().into_owned()
}

fn run_briefly(args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap()
}

#[test]
fn a_layout_blob_linking_outside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A host "file" that is a valid layer: followed, its contents would be listed.
    let host = dir.path().join("host.tar");
    std::fs::write(&host, layer(&[file("etc/host-secret", b"root:x")])).unwrap();
    let layout = layout_with_layer(dir.path(), |blob| symlink(&host, blob).unwrap());
    for args in [
        vec!["ls", &layout, "--no-verify"],
        vec!["cat", &layout, "/etc/host-secret", "--no-verify"],
    ] {
        let out = run_briefly(&args);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("host-secret"));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("root:x"));
        assert_bad_input(&out, "outside the directory");
    }
}

#[test]
fn a_layout_blob_that_is_a_fifo_or_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = layout_with_layer(&dir.path().join("f"), |blob| {
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(blob)
            .status()
            .unwrap();
        assert!(status.success());
    });
    assert_bad_input(&run_briefly(&["ls", &fifo, "--no-verify"]), "a FIFO");
    let zero = layout_with_layer(&dir.path().join("z"), |blob| {
        symlink("/dev/zero", blob).unwrap()
    });
    assert_bad_input(
        &run_briefly(&["ls", &zero, "--no-verify"]),
        "outside the directory",
    );
}

#[test]
fn index_json_linking_to_a_host_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = simple();
    let root = dir.path().join("layout");
    write_dir(&oci_layout(std::slice::from_ref(&img), Comp::None), &root);
    let host = dir.path().join("host-index.json");
    std::fs::copy(root.join("index.json"), &host).unwrap();
    std::fs::remove_file(root.join("index.json")).unwrap();
    symlink(&host, root.join("index.json")).unwrap();
    assert_bad_input(
        &run_briefly(&["ls", &root.to_string_lossy()]),
        "index.json: refused",
    );
}

#[test]
fn legacy_save_links_between_layer_directories_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    // Two images sharing a base layer: docker save stores it once and links the second copy to the first.
    let base = layer(&[file("base", b"shared")]);
    let a = Img::new("a:1", vec![base.clone(), layer(&[file("x", b"1")])]);
    let b = Img::new("b:1", vec![base, layer(&[file("y", b"2")])]);
    let files = docker_legacy(&[a, b.clone()]);
    let root = dir.path().join("save");
    write_dir(&files, &root);
    let b_config = hexof(&sha256(&b.config())).to_string();
    let first = |img_id: &str| hexof(&sha256(&[img_id.as_bytes(), &[0u8]].concat())).to_string();
    let a_config = files
        .iter()
        .find(|(n, _)| n.ends_with(".json") && n != "manifest.json" && !n.starts_with(&b_config))
        .map(|(n, _)| n.trim_end_matches(".json").to_string())
        .unwrap();
    let linked = root.join(first(&b_config)).join("layer.tar");
    std::fs::remove_file(&linked).unwrap();
    symlink(format!("../{}/layer.tar", first(&a_config)), &linked).unwrap();
    let layout = root.to_string_lossy().into_owned();
    let out = run_briefly(&["cat", &layout, "/base", "--image", "b:1"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert_eq!(out.stdout, b"shared");
    // The same link with an absolute target is refused, not re-rooted.
    std::fs::remove_file(&linked).unwrap();
    symlink(format!("/{}/layer.tar", first(&a_config)), &linked).unwrap();
    assert_bad_input(
        &run_briefly(&["ls", &layout, "--image", "b:1"]),
        "outside the directory",
    );
}

/// A layer holding `big`: a GNU sparse file of `real` bytes, all holes but the last 5 (`tail!`).
fn sparse_layer(real: u64) -> Vec<u8> {
    fn number(field: &mut [u8], value: u64) {
        let octal = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(octal.as_bytes());
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("big").unwrap();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_mode(0o644);
    h.set_size(5);
    let gnu = h.as_gnu_mut().unwrap();
    number(&mut gnu.sparse[0].offset, real - 5);
    number(&mut gnu.sparse[0].numbytes, 5);
    number(&mut gnu.realsize, real);
    h.set_cksum();
    b.append(&h, &b"tail!"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn cat_streams_a_sparse_file_larger_than_the_memory_it_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new("s:1", vec![sparse_layer(2 << 30)]);
    let path = write_file(dir.path(), "sparse.tar", &tar_files(&docker_legacy(&[img])));
    // 2 GiB of holes through a process allowed 1.5 GiB of address space: only streaming gets through.
    let script = format!(
        "ulimit -v 1500000 && {} cat {path} /big | tail -c 5",
        assert_cmd::cargo::cargo_bin("layerscope").display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert_eq!(out.stdout, b"tail!", "{}", stderr_line(&out));
}

#[test]
fn cat_from_stdin_refuses_to_hold_a_huge_file() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new("s:1", vec![sparse_layer(2 << 30)]);
    let path = write_file(dir.path(), "sparse.tar", &tar_files(&docker_legacy(&[img])));
    let out = bin()
        .args(["cat", "-", "/big"])
        .pipe_stdin(&path)
        .unwrap()
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    assert_bad_input(&out, "save the image to a file");
}

/// An unpacked `docker save` directory holds the same dangers as a layout: a layer linking to a host file or to
/// `/dev/zero`, a config linking out or that is a FIFO. Each is refused at once, never read.
#[test]
fn an_unpacked_save_whose_layer_or_config_links_out_or_is_a_fifo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host.tar");
    std::fs::write(&host, layer(&[file("etc/host-secret", b"root:x")])).unwrap();
    let files = docker_legacy(&[simple()]);
    let config = files
        .iter()
        .map(|(name, _)| name)
        .find(|n| n.ends_with(".json") && *n != "manifest.json")
        .unwrap()
        .clone();
    let layer_path = files
        .iter()
        .map(|(name, _)| name)
        .find(|n| n.ends_with("layer.tar"))
        .unwrap()
        .clone();
    type Make<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: [(&str, &str, Make, &str); 4] = [
        (
            "host",
            &layer_path,
            Box::new(|p| symlink(&host, p).unwrap()),
            "outside the directory",
        ),
        (
            "zero",
            &layer_path,
            Box::new(|p| symlink("/dev/zero", p).unwrap()),
            "outside the directory",
        ),
        (
            "config",
            &config,
            Box::new(|p| symlink("/etc/passwd", p).unwrap()),
            "outside the directory",
        ),
        (
            "fifo",
            &config,
            Box::new(|p| {
                let status = std::process::Command::new("mkfifo")
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(status.success());
            }),
            "a FIFO",
        ),
    ];
    for (name, member, make, needle) in cases {
        let root = dir.path().join(name);
        write_dir(&files, &root);
        std::fs::remove_file(root.join(member)).unwrap();
        make(&root.join(member));
        let root = root.to_string_lossy().into_owned();
        for args in [
            vec!["ls", &root, "--no-verify"],
            vec!["cat", &root, "/etc/host-secret"],
        ] {
            let out = run_briefly(&args);
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("root:x"),
                "{name}"
            );
            assert_bad_input(&out, needle);
        }
    }
}
