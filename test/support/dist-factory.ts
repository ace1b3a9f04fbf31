import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes minimal but valid distributions with Python's zipfile/tarfile (the system python is always
 * present), for tests that need many small files without running a build backend.
 */
const SCRIPT = String.raw`
import sys, zipfile, tarfile, io, json
spec = json.loads(sys.argv[1])
meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n" % (spec["name"], spec["version"], spec.get("summary", "test"))
meta += spec.get("extra_headers", "")
meta += "\n" + spec.get("description", "") + ("A" * spec.get("pad", 0))
dist = spec["name"].replace("-", "_").replace(".", "_")
out = spec["out"]
if spec["kind"] == "wheel":
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(dist + "/__init__.py", spec.get("payload", "x = 1\n"))
        if spec.get("random_bytes"):
            import os
            z.writestr(zipfile.ZipInfo(dist + "/data.bin"), os.urandom(spec["random_bytes"]), zipfile.ZIP_STORED)
        di = "%s-%s.dist-info/" % (dist, spec["version"])
        z.writestr(di + "METADATA", meta.encode(spec.get("metadata_encoding") or "utf-8"))
        z.writestr(di + "WHEEL", "Wheel-Version: 1.0\nGenerator: cairn-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(di + "RECORD", "")
else:
    top = "%s-%s" % (dist, spec["version"])
    with tarfile.open(out, "w:gz") as t:
        for name, data in ((top + "/PKG-INFO", meta), (top + "/setup.py", "")):
            b = data.encode()
            info = tarfile.TarInfo(name); info.size = len(b); info.mtime = 0
            t.addfile(info, io.BytesIO(b))
`;

export interface DistSpec {
  name: string;
  version: string;
  kind: 'wheel' | 'sdist';
  summary?: string;
  description?: string;
  extraHeaders?: string;
  payload?: string;
  /** Bytes of filler appended to the description (a zip bomb when large: it compresses ~1000:1). */
  pad?: number;
  /** Encoding of the wheel's METADATA file (the specification demands UTF-8). */
  metadataEncoding?: 'utf-8' | 'latin-1';
  /** Incompressible bytes stored in the wheel (large uploads). */
  randomBytes?: number;
}

export function distFilename(spec: DistSpec): string {
  const dist = spec.name.replace(/[-.]/g, '_');
  return spec.kind === 'wheel' ? `${dist}-${spec.version}-py3-none-any.whl` : `${dist}-${spec.version}.tar.gz`;
}

export function makeDistribution(dir: string, spec: DistSpec): { path: string; filename: string; bytes: Buffer } {
  const filename = distFilename(spec);
  const path = join(dir, filename);
  execFileSync('/usr/bin/python3', [
    '-c',
    SCRIPT,
    JSON.stringify({ ...spec, extra_headers: spec.extraHeaders, random_bytes: spec.randomBytes, metadata_encoding: spec.metadataEncoding, out: path }),
  ]);
  return { path, filename, bytes: readFileSync(path) };
}
