"""Facts that follow from the Kubernetes version: one table, one place.

Supported range: 1.24 to 1.36. The lower bound is where the community package
repositories (pkgs.k8s.io, one repository per minor version) start; the upper bound is
the newest release whose kubeadm, kubelet and kube-proxy configuration we checked
(../shared/upstream/kubeadm-api-reference.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_MINOR = 24
MAX_MINOR = 36
SUPPORTED_RANGE = f"1.{MIN_MINOR} to 1.{MAX_MINOR}"

# kube-proxy's nftables mode: alpha behind the NFTablesProxyMode gate in 1.29 and 1.30,
# beta and on by default from 1.31, GA in 1.33 (KEP-3866).
NFTABLES_ALPHA_MINOR = 29
NFTABLES_BETA_MINOR = 31

# The pause image tag that kubeadm of each minor version expects (constants.PauseVersion in
# kubernetes/cmd/kubeadm/app/constants/constants.go); the runtime's sandbox image must match
# or kubeadm preflight warns and the kubelet pulls a second pause image. Checked against
# the constants.go of the 1.32-era tree (3.10) and of v1.35.8 (3.10.1); 1.36 is assumed to
# keep 3.10.1 (not checked).
PAUSE_VERSIONS: dict[int, str] = {
    24: "3.7",
    25: "3.8",
    26: "3.9",
    27: "3.9",
    28: "3.9",
    29: "3.9",
    30: "3.9",
    31: "3.10",
    32: "3.10",
    33: "3.10",
    34: "3.10.1",
    35: "3.10.1",
    36: "3.10.1",
}

# Each part at most 9 digits: int() of a longer run is slow or refused (4,300 digits), and
# no real version comes near.
_VERSION = re.compile(r"^v?(\d{1,9})\.(\d{1,9})\.(\d{1,9})$")


@dataclass(frozen=True, order=True)
class KubeVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        match = _VERSION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a full Kubernetes version such as 1.31.4")
        return cls(*(int(part) for part in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def minor_series(self) -> str:
        """'v1.31', as pkgs.k8s.io and CRI-O's repositories name their channels."""
        return f"v{self.major}.{self.minor}"

    @property
    def supported(self) -> bool:
        return self.major == 1 and MIN_MINOR <= self.minor <= MAX_MINOR

    @property
    def kubeadm_api_version(self) -> str:
        # v1beta4 first appeared in kubeadm 1.31; v1beta3 is used before it.
        return "kubeadm.k8s.io/v1beta4" if self.minor >= 31 else "kubeadm.k8s.io/v1beta3"

    @property
    def pause_version(self) -> str:
        return PAUSE_VERSIONS[self.minor]

    @property
    def emits_legacy_endpoints(self) -> bool:
        # v1 Endpoints is deprecated from 1.33 (KEP-4974); older clusters still get both.
        return self.minor < 33


def image_tag(image: str) -> str | None:
    """The tag of an image reference, or None (no tag, or pinned by digest only).

    >>> image_tag("registry.example:5000/pause:3.10")
    '3.10'
    >>> image_tag("registry.example:5000/pause") is None
    True
    """
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def pause_image_warning(image: str, version: KubeVersion) -> str | None:
    """A warning when a sandbox image's tag is not the pause version kubeadm expects."""
    tag = image_tag(image)
    expected = version.pause_version
    if tag is None or tag == expected:
        return None
    return (
        f"spec.runtime.pauseImage {image} has tag {tag}, but kubeadm {version.minor_series} "
        f"expects pause:{expected}: kubeadm's preflight will warn and the kubelet will pull a "
        f"second pause image; use tag {expected} or leave pauseImage out"
    )
