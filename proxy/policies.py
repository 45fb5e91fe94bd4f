"""Site policies: which hosts Veil protects, with which filters, and what to do on failure.

Pure Python: parsing and choosing the policy of a host (site patterns are ``proxy.sites``),
with nothing of HTTP or SQLite.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from activities import ACTIVITY_FILTERS as ACTIVITY_FILTERS_BY_NAME
from filters import (
    DEFAULT_FACES,
    DEFAULT_FILTERS,
    DEFAULT_PROFILE,
    DEFAULT_STRENGTH,
    PROFILES,
    STRENGTHS,
    WHOSE_FACES,
    canonical_strength,
)
from proxy.sites import PolicyError, normalize_site, site_matches

__all__ = [
    "ACTIVITY_FILTERS",
    "ACTIVITY_POLICIES",
    "DEFAULT_POLICIES",
    "FAILURE_ACTIONS",
    "MAX_FILTERS",
    "Policy",
    "PolicyError",
    "best_policy",
    "image_filters",
    "parse_policy",
]

FAILURE_ACTIONS = ("block", "send_original")
# A chain longer than this is a mistake, not a policy: every filter costs seconds per photo.
MAX_FILTERS = 8
_POLICY_KEYS = frozenset(
    {"site", "enabled", "filters", "strength", "on_failure", "profile", "faces"}
)


@dataclass(frozen=True)
class Policy:
    """How uploads to one site (exact host or ``*.domain``) are protected."""

    site: str
    enabled: bool = True
    filters: tuple[str, ...] = DEFAULT_FILTERS
    strength: str = DEFAULT_STRENGTH
    on_failure: str = "block"
    profile: str = DEFAULT_PROFILE
    faces: str = DEFAULT_FACES  # whose faces the face filters change

    def __post_init__(self) -> None:
        # Frozen, so any Policy is a valid one (parse_policy also checks the filter names).
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "strength", canonical_strength(self.strength))  # old names
        if normalize_site(self.site) != self.site:
            raise PolicyError(f"site {self.site!r} is not normalized; use normalize_site()")
        if self.strength not in STRENGTHS:
            raise PolicyError(f"strength must be one of {', '.join(STRENGTHS)}")
        if self.on_failure not in FAILURE_ACTIONS:
            raise PolicyError(f"on_failure must be one of {', '.join(FAILURE_ACTIONS)}")
        if self.profile not in PROFILES:
            raise PolicyError(f"profile must be one of {', '.join(PROFILES)}")
        if self.faces not in WHOSE_FACES:
            raise PolicyError(f"faces must be one of {', '.join(WHOSE_FACES)}")

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form, the same shape that parse_policy() reads."""
        return {
            "site": self.site,
            "enabled": self.enabled,
            "filters": list(self.filters),
            "strength": self.strength,
            "on_failure": self.on_failure,
            "profile": self.profile,
            "faces": self.faces,
        }


def _specificity(site: str) -> tuple[bool, int]:
    """Exact hosts first, then the longest wildcard domain."""
    return (not site.startswith("*."), len(site))


def best_policy(policies: Iterable[Policy], host: str) -> Policy | None:
    """The most specific policy for the host, enabled or not (a disabled one shadows wider ones)."""
    matching = [policy for policy in policies if site_matches(policy.site, host)]
    return max(matching, key=lambda policy: _specificity(policy.site), default=None)


def _field(data: dict[str, object], key: str, kind: type, default: object) -> object:
    value = data.get(key, default)
    # bool is an int in Python; JSON true must not pass for a number or the other way round.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise PolicyError(f"{key} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _parse_filters(value: object, known_filters: Collection[str]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise PolicyError("filters must be a list of filter names")
    if not value:
        raise PolicyError("filters must name at least one filter (disable the policy instead)")
    if len(value) > MAX_FILTERS:
        raise PolicyError(f"filters may name at most {MAX_FILTERS} filters")
    unknown = [name for name in value if name not in known_filters]
    if unknown:
        raise PolicyError(
            f"unknown filter(s) {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(sorted(known_filters))}"
        )
    if len(set(value)) != len(value):
        raise PolicyError("filters must not repeat a filter")
    return tuple(value)


def parse_policy(data: object, known_filters: Collection[str], site: str | None = None) -> Policy:
    """A Policy from decoded JSON; omitted fields take their defaults.

    ``site``, when given (e.g. from a URL), is used if ``data`` has none and must match it
    otherwise. Raises PolicyError with a readable message for anything else.
    """
    if not isinstance(data, dict):
        raise PolicyError("a policy must be a JSON object")
    unknown = sorted(str(key) for key in set(data) - _POLICY_KEYS)
    if unknown:
        raise PolicyError(f"unknown policy field(s) {unknown}; known: {sorted(_POLICY_KEYS)}")
    resolved = normalize_site(site) if site is not None else None
    if "site" in data:
        from_body = normalize_site(str(_field(data, "site", str, "")))
        if resolved is not None and from_body != resolved:
            raise PolicyError(f"site {from_body!r} in the body differs from {resolved!r}")
        resolved = from_body
    if resolved is None:
        raise PolicyError("site is required")
    strength = canonical_strength(str(_field(data, "strength", str, DEFAULT_STRENGTH)))
    if strength not in STRENGTHS:
        raise PolicyError(f"strength must be one of {', '.join(STRENGTHS)}, not {strength!r}")
    on_failure = _field(data, "on_failure", str, "block")
    if on_failure not in FAILURE_ACTIONS:
        raise PolicyError(
            f"on_failure must be one of {', '.join(FAILURE_ACTIONS)}, not {on_failure!r}"
        )
    profile = _field(data, "profile", str, DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise PolicyError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    faces = _field(data, "faces", str, DEFAULT_FACES)
    if faces not in WHOSE_FACES:
        raise PolicyError(f"faces must be one of {', '.join(WHOSE_FACES)}, not {faces!r}")
    return Policy(
        site=resolved,
        enabled=bool(_field(data, "enabled", bool, True)),
        filters=_parse_filters(data.get("filters", list(DEFAULT_FILTERS)), known_filters),
        strength=str(strength),
        on_failure=str(on_failure),
        profile=str(profile),
        faces=str(faces),
    )


# Sites that recompress like Instagram (1080 px, JPEG ~70); the others like Facebook.
_INSTAGRAM_LIKE = frozenset({"*.instagram.com", "*.threads.net", "*.threads.com"})

# The platforms of REFERENCE.md section 3, where each one's upload requests go.
DEFAULT_POLICIES: tuple[Policy, ...] = tuple(
    Policy(site, profile="instagram" if site in _INSTAGRAM_LIKE else "facebook")
    for site in (
        "mastodon.social",  # users add their own instance
        "*.mastodon.social",
        "bsky.social",
        "*.bsky.network",  # Bluesky PDS hosts
        "*.imgur.com",
        "*.reddit.com",
        "reddit-uploaded-media.s3-accelerate.amazonaws.com",
        "api.telegram.org",
        "*.instagram.com",
        "*.threads.net",
        "*.threads.com",
        "*.x.com",
        "*.twitter.com",
        "*.facebook.com",
        "*.discord.com",
        "discord-attachments-uploads-prd.storage.googleapis.com",
    )
)

ACTIVITY_FILTER_NAMES = frozenset(ACTIVITY_FILTERS_BY_NAME)
# Where runners and cyclists upload activity files (GPX, TCX, FIT), from each platform's
# public API documentation: Strava's POST /api/v3/uploads, Garmin Connect's upload-service,
# Komoot's tour import, RideWithGPS's trips. Their photos get the metadata filter; FIT files
# and accelerometer uploads motion-anonymise too (weights shipped, no network; torch loads on
# the first stream). Stored policies keep what they list: a user may have removed it.
ACTIVITY_FILTERS: tuple[str, ...] = ("metadata", "track-privacy", "motion-anonymise")
ACTIVITY_POLICIES: tuple[Policy, ...] = tuple(
    Policy(site, filters=ACTIVITY_FILTERS, profile="none")
    for site in (
        "*.strava.com",
        "*.garmin.com",
        "*.komoot.com",
        "*.komoot.de",
        "*.ridewithgps.com",
    )
)
DEFAULT_POLICIES += ACTIVITY_POLICIES


def image_filters(filters: tuple[str, ...]) -> tuple[str, ...]:
    """The image filters of a policy's list; ``metadata`` when it names none, so that a
    photo posted to a site protected for its activities still loses its GPS."""
    return tuple(name for name in filters if name not in ACTIVITY_FILTER_NAMES) or ("metadata",)
