/**
 * The commented example `cairn policy init` writes. It must parse (a unit test checks), so a user
 * who edits nothing gets a working policy that still trusts only what it names.
 */
export const EXAMPLE_POLICY = `# cairn consumer policy (docs/policy.md). cairn verify and cairn proxy accept a file only if
# its provenance verifies against the trusted roots AND its signer is named here. An index
# serving valid provenance is not enough: the signer must be one you chose to trust.
version = 1

[defaults]
# What every project's files must carry unless [projects.NAME] says otherwise:
#   "build"   SLSA build provenance signed by a [[builders]] entry
#   "publish" a PEP 740 publish attestation signed by a [[publishers]] entry
#   "any"     either of the two
#   "none"    nothing (the file is not checked at all)
require = "any"
# When a release is signed by other identities than earlier releases of the project
# (changed, lost or inconsistent provenance): "off", "warn" (report it) or "fail".
identity-continuity = "warn"
# PEP 792 statuses the project's index may report that fail its files ("archived",
# "quarantined", "deprecated"); other statuses are warnings.
fail-on-status = ["quarantined"]

# Build provenance signers you trust. issuer is compared exactly; identity is a glob on the
# signing certificate's identity: * matches within one path segment, ** across segments.
[[builders]]
issuer = "https://token.actions.githubusercontent.com"
identity = "https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v*"
# Optional conditions on the signing certificate (all must hold):
# runner = "github-hosted"          # refuse builds on self-hosted runners
# source-ref = "refs/tags/v*"       # only builds of a release tag
# predicate-type = "https://slsa.dev/provenance/v1"

# Publish-attestation signers you trust, named as PyPI trusted publishers are.
[[publishers]]
issuer = "https://token.actions.githubusercontent.com"
repository = "pypa/sampleproject"
workflow = "release.yml"   # optional: any workflow of the repository when left out

# Per-project rules override [defaults]. Names compare in PEP 503 normal form.
[projects.sampleproject]
require = "publish"
source-repository = "https://github.com/pypa/sampleproject"   # the attestation must name it
`;
