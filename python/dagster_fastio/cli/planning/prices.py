"""Price presets per provider and storage class: public list prices for one region each, dated,
to be checked against your contract (discounts, tiers and regions change them).

Egress is charged only for bytes that leave the bucket's region: to the internet, or to compute
in another region. Writing into a bucket and reading from compute in the same region are free
of transfer charges on all three providers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EGRESS", "PRICES_AS_OF", "PROVIDERS", "Prices", "prices_for"]

PRICES_AS_OF = "2025-06"
"""When the presets were taken from the providers' public price pages."""

EGRESS = ("none", "region", "internet")
"""Where loads read from: the bucket's own region (no charge), another region of the same
provider, or outside the provider."""


@dataclass(frozen=True)
class Prices:
    provider: str
    storage_class: str
    region: str
    storage_usd_gb_month: float
    """The first tier (AWS: first 50 TB; Azure: first 50 TB; GCP: flat)."""
    retrieval_usd_gb: float
    """Charged per GB read from the infrequent-access classes; 0 for the hot ones."""
    egress_region_usd_gb: float
    """Per GB read by compute in another region of the same provider (same continent)."""
    egress_internet_usd_gb: float
    """Per GB leaving the provider, first tier after any free allowance."""
    as_of: str = PRICES_AS_OF

    @property
    def label(self) -> str:
        return (
            f"{self.provider} {self.storage_class} ({self.region}), list prices as of "
            f"{self.as_of}: check your contract"
        )

    def egress_usd_gb(self, egress: str) -> float:
        if egress not in EGRESS:
            raise ValueError(f"unknown egress {egress!r}: expected one of {', '.join(EGRESS)}")
        return {
            "none": 0.0,
            "region": self.egress_region_usd_gb,
            "internet": self.egress_internet_usd_gb,
        }[egress]


def _classes(
    provider: str, region: str, egress: tuple[float, float], table: dict[str, tuple[float, float]]
) -> dict[str, Prices]:
    return {
        name: Prices(provider, name, region, storage, retrieval, *egress)
        for name, (storage, retrieval) in table.items()
    }


# (storage USD per GB-month, retrieval USD per GB); egress (other region, internet) per GB.
_PRESETS: dict[str, dict[str, Prices]] = {
    "aws": _classes(
        "aws",
        "us-east-1",
        (0.02, 0.09),
        {
            "standard": (0.023, 0.0),
            "intelligent-tiering": (0.023, 0.0),
            "standard-ia": (0.0125, 0.01),
            "one-zone-ia": (0.01, 0.01),
            "glacier-instant": (0.004, 0.03),
        },
    ),
    "gcp": _classes(
        "gcp",
        "us-central1",
        (0.02, 0.12),
        {
            "standard": (0.020, 0.0),
            "nearline": (0.010, 0.01),
            "coldline": (0.004, 0.02),
            "archive": (0.0012, 0.05),
        },
    ),
    "azure": _classes(
        "azure",
        "East US, LRS",
        (0.02, 0.087),
        {
            "hot": (0.018, 0.0),
            "cool": (0.010, 0.01),
            "cold": (0.0036, 0.03),
            "archive": (0.00099, 0.02),
        },
    ),
}
PROVIDERS = tuple(_PRESETS)
_DEFAULT_CLASS = {"aws": "standard", "gcp": "standard", "azure": "hot"}


def prices_for(provider: str = "aws", storage_class: str | None = None) -> Prices:
    """The preset for `provider` and `storage_class` (default: its hot class)."""
    provider = provider.lower()
    if provider not in _PRESETS:
        raise ValueError(f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    classes = _PRESETS[provider]
    name = (storage_class or _DEFAULT_CLASS[provider]).lower()
    if name not in classes:
        raise ValueError(
            f"unknown storage class {storage_class!r} for {provider}: expected one of "
            f"{', '.join(classes)}"
        )
    return classes[name]
