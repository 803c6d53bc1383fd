//! Choosing the image and platform: multi-image archives, multi-platform indexes, attestations, absent blobs.

mod common;

use common::*;

fn two_images() -> Vec<Img> {
    vec![
        Img::new("alpha:1", vec![layer(&[file("a", b"alpha")])]),
        Img::new("beta:2", vec![layer(&[file("b", b"beta!!")])]),
    ]
}

#[test]
fn several_images_need_image_and_the_error_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, files) in [
        ("legacy.tar", docker_legacy(&two_images())),
        ("oci.tar", oci_layout(&two_images(), Comp::Gzip)),
    ] {
        let path = write_file(dir.path(), name, &tar_files(&files));
        let out = run(&[&path]);
        assert_bad_input(&out, "holds 2 images");
        let err = stderr_line(&out);
        assert!(err.contains("alpha:1") && err.contains("beta:2"), "{err}");

        let r = json_of(&["--json", "-", "--image", "beta:2", &path]);
        assert_eq!(r["image"]["size_bytes"], 6);
        // Docker's short and long names both work.
        let r = json_of(&["--json", "-", "--image", "docker.io/library/alpha:1", &path]);
        assert_eq!(r["image"]["size_bytes"], 5);

        let out = run(&["--image", "gamma:3", &path]);
        assert_bad_input(&out, "no image matches gamma:3");
    }
}

#[test]
fn platform_is_chosen_from_a_nested_index_and_attestations_are_skipped() {
    let images = vec![
        Img::new("multi:1", vec![layer(&[file("amd", b"x86")])]).arch("amd64"),
        Img::new("multi:1", vec![layer(&[file("arm", b"arm64!")])]).arch("arm64"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "multi.tar",
        &tar_files(&oci_multi_platform(&images, Comp::Zstd, Some("s390x"))),
    );

    let r = json_of(&["--json", "-", "--platform", "linux/arm64", &path]);
    assert_eq!(r["image"]["platform"], "linux/arm64");
    assert_eq!(r["image"]["size_bytes"], 6);

    let r = json_of(&["--json", "-", "--platform", "linux/amd64", &path]);
    assert_eq!(r["image"]["platform"], "linux/amd64");

    let out = run(&["--platform", "linux/riscv64", &path]);
    assert_bad_input(&out, "platform linux/riscv64 is not in the image");
    let err = stderr_line(&out);
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );
    assert!(
        err.contains("linux/s390x (blobs not in the archive)"),
        "{err}"
    );
    assert!(
        !err.contains("unknown"),
        "attestations are not platforms: {err}"
    );

    let out = run(&["--platform", "linux/s390x", &path]);
    assert_bad_input(&out, "platform linux/s390x");

    let out = run(&["--platform", "nonsense", &path]);
    assert_bad_input(&out, "--platform");
}

#[test]
fn a_single_platform_image_is_used_whatever_the_host() {
    let img = Img::new("arm:1", vec![layer(&[file("f", b"1")])]).arch("arm64");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "arm.tar",
        &tar_files(&oci_layout(&[img], Comp::Gzip)),
    );
    let r = json_of(&["--json", "-", &path]);
    assert_eq!(r["image"]["platform"], "linux/arm64");
    // But an explicit, different platform is refused.
    assert_bad_input(&run(&["--platform", "linux/ppc64le", &path]), "linux/arm64");
}

#[test]
fn docker_archive_platform_mismatch_is_reported() {
    let img = Img::new("x:1", vec![layer(&[file("f", b"1")])]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "x.tar", &tar_files(&docker_legacy(&[img])));
    assert_bad_input(
        &run(&["--platform", "linux/arm64", &path]),
        "available: linux/amd64",
    );
}
