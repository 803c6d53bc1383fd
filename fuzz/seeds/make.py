#!/usr/bin/env python3
"""Writes starting corpora for the fuzz targets into fuzz/corpus/<target>/ (then minimised with `cargo fuzz cmin`).

The real images in tests/fixtures/real/ are split into members: metadata members are kept as they are, each layer
is replaced by a small layer, and digests are rewritten so the small archives verify. The `manifests` seeds keep the
metadata with `@Dn@` placeholders instead of digests (see fuzz/src/lib.rs)."""
import gzip, hashlib, io, os, re, sys, tarfile

try:
    import zstandard
except ImportError:
    zstandard = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "real")
OUT = os.path.join(ROOT, "fuzz", "corpus")
SLOTS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tar_of(members, fmt=tarfile.GNU_FORMAT):
    """members: (name, bytes | ('link', target) | ('hard', target) | ('dir',)). Only the two zero blocks that end
    a tar follow the last member (tarfile would pad to 10 KiB), to keep seeds small."""
    out = b""
    for name, body in members:
        info = tarfile.TarInfo(name)
        info.mode = 0o644
        data = b""
        if isinstance(body, tuple):
            if body[0] == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.type = tarfile.SYMTYPE if body[0] == "link" else tarfile.LNKTYPE
                info.linkname = body[1]
        else:
            info.size, data = len(body), body
        out += info.tobuf(fmt, "utf-8", "surrogateescape") + data + b"\0" * (-len(data) % 512)
    return out + b"\0" * 1024


def small_layer(i):
    return tar_of([("etc/", ("dir",)), (f"etc/file{i}", f"layer {i}\n".encode())])


def is_layer(data):
    return data[:2] == b"\x1f\x8b" or data[:4] == b"\x28\xb5\x2f\xfd" or (len(data) > 512 and data[257:262] == b"ustar")


def split(path):
    """The members of a fixture: (name, data or ('link', target)), layers marked by `None` data."""
    out = []
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.isdir():
                continue
            if m.issym():
                out.append((m.name, ("link", m.linkname)))
                continue
            data = t.extractfile(m).read()
            out.append((m.name, None if is_layer(data) else data))
    return out


def small_archive(members):
    """Layers replaced by small ones; every digest and size that named a layer now names its replacement."""
    renames = {}
    result = []
    for i, (name, data) in enumerate(members):
        if data is None:
            with tarfile.open(os.path.join(FIX, CURRENT)) as t:
                old = t.extractfile(name).read()
            new = small_layer(i)
            renames[hashlib.sha256(old).hexdigest()] = hashlib.sha256(new).hexdigest()
            if old[:2] == b"\x1f\x8b" or old[:4] == b"\x28\xb5\x2f\xfd":
                # compressed layers: diff_id is the digest of the uncompressed tar
                raw = gzip.decompress(old) if old[:2] == b"\x1f\x8b" else zstd_decompress(old)
                stored = gzip.compress(new, mtime=0) if old[:2] == b"\x1f\x8b" else zstd_compress(new)
                if stored is None:
                    stored, new = new, new
                renames[hashlib.sha256(raw).hexdigest()] = hashlib.sha256(new).hexdigest()
                renames[hashlib.sha256(old).hexdigest()] = hashlib.sha256(stored).hexdigest()
                new = stored
            result.append([name, new, len(old)])
        else:
            result.append([name, data, None])
    # Metadata refers to other members by digest: rewrite bottom-up until nothing changes.
    for _ in range(5):
        for m in result:
            if isinstance(m[1], bytes) and m[2] is None:
                old = m[1]
                text = m[1]
                for a, b in renames.items():
                    text = text.replace(a.encode(), b.encode())
                for lm in result:
                    if lm[2] is not None:
                        text = re.sub(rb'("size":\s*)%d\b' % lm[2], rb"\g<1>%d" % len(lm[1]), text)
                if text != old:
                    renames[hashlib.sha256(old).hexdigest()] = hashlib.sha256(text).hexdigest()
                    m[1] = text
    out = []
    for name, data, _ in result:
        for a, b in renames.items():
            name = name.replace(a, b)
        out.append((name, data))
    return out


def zstd_decompress(data):
    return zstandard.ZstdDecompressor().decompressobj().decompress(data) if zstandard else b""


def zstd_compress(data):
    return zstandard.ZstdCompressor().compress(data) if zstandard else None


def placeholders(members):
    """The `manifests` input: member contents with digests replaced by @Dn@."""
    names = [n for n, _ in members]
    datas = [b"@LAYER@" if d is None else d for _, d in members]
    digests = {}
    with tarfile.open(os.path.join(FIX, CURRENT)) as t:
        for i, (n, d) in enumerate(members):
            if isinstance(d, tuple):
                continue
            body = t.extractfile(n).read() if d is None else d
            digests[hashlib.sha256(body).hexdigest()] = i
            if d is None and body[:2] == b"\x1f\x8b":
                digests[hashlib.sha256(gzip.decompress(body)).hexdigest()] = i
    out = [b"\x01"]
    for i, (n, d) in enumerate(zip(names, datas)):
        if isinstance(d, tuple):
            d = b"@LINK@" + d[1].encode()
        for h, j in digests.items():
            if j < len(SLOTS):
                d = d.replace(h.encode(), b"@D" + SLOTS[j].encode() + b"@")
                n = n.replace(h, "@D" + SLOTS[j] + "@")
        out += [n.encode(), d]
    return b"\0".join(out)


for CURRENT in sorted(os.listdir(FIX)):
    if not CURRENT.endswith(".tar"):
        continue
    base = CURRENT[:-4]
    members = split(os.path.join(FIX, CURRENT))
    members = members[: len(SLOTS)]
    small = small_archive(members)
    body = tar_of([(n, d) for n, d in small])
    write("archive", base + "-verify", b"\x04" + body)
    write("archive", base + "-gzip-scan", b"\x0d" + body)
    if zstandard or base == "docker25":
        write("archive", base + "-zstd", b"\x06" + body)
    write("manifests", base, placeholders(members))
    # Configs alone, for ImageConfig::parse through the same target.
    for n, d in members:
        if isinstance(d, bytes) and b'"rootfs"' in d:
            write("manifests", base + "-config", d)
            break
    # Small real layers, as stored (some gzip/zstd) and raw.
    with tarfile.open(os.path.join(FIX, CURRENT)) as t:
        for n, d in members:
            if d is None:
                m = t.getmember(n)
                if m.size <= 16 * 1024:
                    write("layer", f"{base}-{os.path.basename(n)[:12]}", t.extractfile(m).read())

# Layers with the constructs the scanner and tree care about.
write("layer", "whiteouts", tar_of([
    ("a/", ("dir",)), ("a/.wh..wh..opq", b""), ("a/.wh.gone", b""), ("a/kept", b"x"),
    ("a/hard", ("hard", "a/kept")), ("a/sym", ("link", "../etc/passwd")),
    ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
]))
write("layer", "pax-long-names", tar_of([("d/" + "n" * 200, b"long"), ("x\u00e9", b"utf8")], tarfile.PAX_FORMAT))
write("layer", "secrets", tar_of([
    ("app/.env", b"AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5TJN2UE4OK\nGITHUB=ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8\n"),
    ("root/.ssh/id_rsa", b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestfixturekeymaterial\n"),
]))
write("layer", "secrets-gzip", gzip.compress(tar_of([("app/config.py", b"token = 'ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8'\n")]), mtime=0))

write("secrets", "env", b"app/.env\0AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5TJN2UE4OK\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9\n")
write("secrets", "github", b"src/conf.js\0const t = \"ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8\";\n")
write("secrets", "pem", b"root/.ssh/id_rsa\0-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestfixturekeymaterial\n-----END RSA PRIVATE KEY-----\n")
write("secrets", "jwt", b"x\0Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n")
write("secrets", "npmrc", b"home/u/.npmrc\0//registry.npmjs.org/:_authToken=npm_4f7Kq9Lz2Xw8Vb3Nm6Tr1Yc5Hd0Gs7Ja2Pe8\n")
write("secrets", "binary", b"usr/bin/x\0\x7fELF\x00\x00ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8")

readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
for i, block in enumerate(re.findall(r"```toml\n(.*?)```", readme, re.S)):
    write("config_file", f"readme-toml-{i}", b"\x00" + block.encode())
write("config_file", "dive-ci", b"\x01rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: disabled\n")
write("config_file", "dive-ci-empty", b"\x01")
