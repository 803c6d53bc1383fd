#!/usr/bin/env python3
"""Rewrites containerd meta.db files (bbolt) in place into small fuzz seeds: only the pages the newest meta
reaches, only the buckets layerscope reads (v1/<namespace>/images and what is below it: content, leases and
snapshots are dropped), renumbered from 2 without gaps, without a freelist.

usage: compact_bolt.py FILE..."""
import struct, sys

LEAF, BRANCH, META = 0x02, 0x01, 0x04


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def keep(path, key):
    """Whether the bucket path + key is one layerscope reads: v1, v1/<ns>, v1/<ns>/images and below."""
    if len(path) == 0:
        return key == b"v1"
    if len(path) == 2:
        return key == b"images"
    return True


def elements(p):
    flags, count = struct.unpack_from("<HH", p, 8)
    out = []
    for i in range(count):
        at = 16 + i * 16
        if flags == BRANCH:
            pos, ksize, child = struct.unpack_from("<IIQ", p, at)
            out.append((bytes(p[at + pos:at + pos + ksize]), child))
        else:
            eflags, pos, ksize, vsize = struct.unpack_from("<IIII", p, at)
            k = bytes(p[at + pos:at + pos + ksize])
            v = bytes(p[at + pos + ksize:at + pos + ksize + vsize])
            out.append((eflags, k, v))
    return flags, out


def leaf_page(items):
    head = bytearray()
    data = bytearray()
    base = 16 * len(items)
    for i, (eflags, k, v) in enumerate(items):
        head += struct.pack("<IIII", eflags, base + len(data) - 16 * i, len(k), len(v))
        data += k + v
    return head + data, len(items)


def branch_page(children):
    head = bytearray()
    data = bytearray()
    base = 16 * len(children)
    for i, (k, child) in enumerate(children):
        head += struct.pack("<IIQ", base + len(data) - 16 * i, len(k), child)
        data += k
    return head + data, len(children)


def compact(path):
    d = open(path, "rb").read()
    metas = []
    for m in (0, 1):
        magic, ver, ps = struct.unpack_from("<III", d, m * 4096 + 16)
        if magic == 0xED0CDAED:
            root, = struct.unpack_from("<Q", d, m * 4096 + 32)
            txid, = struct.unpack_from("<Q", d, m * 4096 + 64)
            metas.append((txid, ps, root))
    txid, ps, root = max(metas)
    out = []  # pages, each a list of page_size blocks

    def page(pid):
        overflow, = struct.unpack_from("<I", d, pid * ps + 12)
        return d[pid * ps:(pid + overflow + 1) * ps]

    def emit(flags, body, count):
        pid = 2 + sum(len(p) // ps for p in out)
        n = max(1, -(-(16 + len(body)) // ps))
        p = bytearray(n * ps)
        struct.pack_into("<QHHI", p, 0, pid, flags, count, n - 1)
        p[16:16 + len(body)] = body
        out.append(p)
        return pid

    def items_of(raw, path):
        flags, els = elements(raw)
        if flags == BRANCH:
            return [x for _, child in els for x in items_of(page(child), path)]
        kept = []
        for eflags, k, v in els:
            if not keep(path, k):
                continue
            if eflags & 1:
                broot, = struct.unpack_from("<Q", v, 0)
                if broot:
                    v = struct.pack("<QQ", bucket(page(broot), path + [k]), 0)
                else:
                    sub = [x for x in items_of(v[16:], path + [k])]
                    body, count = leaf_page(sub)
                    v = struct.pack("<QQ", 0, 0) + struct.pack("<QHHI", 0, LEAF, count, 0) + body
            kept.append((eflags, k, v))
        return kept

    def bucket(raw, path):
        items = items_of(raw, path)
        # One leaf per bucket unless it no longer fits a page; then leaves under a branch.
        body, count = leaf_page(items)
        if 16 + len(body) <= ps or len(items) < 2:
            return emit(LEAF, body, count)
        children, chunk = [], []
        for it in items:
            chunk.append(it)
            if 16 + len(leaf_page(chunk)[0]) > ps and len(chunk) > 1:
                chunk.pop()
                children.append((chunk[0][1], emit(LEAF, *leaf_page(chunk))))
                chunk = [it]
        children.append((chunk[0][1], emit(LEAF, *leaf_page(chunk))))
        return emit(BRANCH, *branch_page(children))

    new_root = bucket(page(root), [])
    hwm = 2 + sum(len(p) // ps for p in out)
    res = bytearray()
    for m in (0, 1):
        meta = bytearray(ps)
        struct.pack_into("<QHHI", meta, 0, m, META, 0, 0)
        body = struct.pack("<IIII", 0xED0CDAED, 2, ps, 0)
        body += struct.pack("<QQQQQ", new_root, 0, 0xFFFFFFFFFFFFFFFF, hwm, txid - 1 + m)
        body += struct.pack("<Q", fnv1a64(body))
        meta[16:16 + len(body)] = body
        res += meta
    for p in out:
        res += p
    open(path, "wb").write(res)
    print(f"{path}: {len(d)} -> {len(res)} bytes ({hwm} pages)")


for f in sys.argv[1:]:
    compact(f)
