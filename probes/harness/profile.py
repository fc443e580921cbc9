"""Target profiles: a TOML file that describes someone else's API (see README, "Profiles").

Every problem is reported before any request is sent, as one line naming the field and the fix.
Credentials are read from environment variables named in the profile, never inline.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from probes.harness.verdicts import HarnessError

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


class ProfileError(HarnessError):
    """A broken profile; the message names the field and the fix."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(Strict):
    method: str
    path: str

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            method, _, path = value.strip().partition(" ")
            if not path:
                method, path = "GET", method
            return {"method": method.upper(), "path": path.strip()}
        return value

    @model_validator(mode="after")
    def _check(self) -> Route:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {sorted(METHODS)}")
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/'")
        return self

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


RouteField = Annotated[Route, BeforeValidator(Route.parse)]


class Login(Strict):
    path: str = "/auth/login"
    format: Literal["form", "json"] = "form"
    username_field: str = "username"
    password_field: str = "password"
    # A JSON body with {username} and {password} placeholders, nested as the API wants.
    template: str | None = None
    # How a failed login shows when it is not a 4xx: statuses, or a substring of the body.
    failure_statuses: list[int] = Field(default_factory=lambda: [400, 401, 403])
    failure_body_contains: str | None = None

    @model_validator(mode="after")
    def _template_needs_json(self) -> Login:
        if self.template is not None and self.format != "json":
            raise ValueError('a template is a JSON body; set format = "json" or drop template')
        return self

    @field_validator("template")
    @classmethod
    def _template_is_json(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            json.loads(value)
        except ValueError as exc:
            raise ValueError(f"template is not valid JSON ({exc})") from None
        if "{username}" not in value or "{password}" not in value:
            raise ValueError("template must contain {username} and {password}")
        return value


class Tokens(Strict):
    access: str = "access_token"
    refresh: str | None = None
    scheme: Literal["Bearer", "Token"] = "Bearer"


class Endpoints(Strict):
    refresh: str | None = None
    refresh_field: str = "refresh_token"
    logout: str | None = None
    registration: str | None = None
    # Where the public signing keys are published, if not at a well-known path.
    jwks: str | None = None


class Routes(Strict):
    protected: list[RouteField] = Field(min_length=1)
    admin: RouteField | None = None


class UserRef(Strict):
    username_env: str
    password_env: str


class Users(Strict):
    user: UserRef
    admin: UserRef | None = None
    inactive: UserRef | None = None
    # A second ordinary user (its own rate-limit buckets; deactivated and restored locally).
    spare: UserRef | None = None


class LimitedRoute(Strict):
    route: RouteField
    limit: str
    per_user: bool = False


class Expectations(Strict):
    access_max_lifetime: int = 900
    refresh_max_lifetime: int = 7 * 24 * 3600
    cors_allowed_origins: list[str] = Field(default_factory=list)
    # Longest Access-Control-Max-Age (s) a granted preflight may set.
    cors_max_age: int = Field(default=7200, ge=0)
    login_limit: str | None = None
    sensitive_routes: list[LimitedRoute] = Field(default_factory=list)
    openapi: str | None = None
    health: str | None = None
    # Longest wait (s) for an issued token to expire before replaying it; 0 skips the replay.
    expiry_wait_max: int = Field(default=0, ge=0, le=900)


class AuditOptions(Strict):
    """How deep the audit goes; raise these for a thorough run."""

    fuzz_examples: int = Field(default=200, ge=1, le=100_000)
    # OpenAPI fuzzing (schemathesis): examples per operation and generation mode, and whether
    # state-changing operations are fuzzed on a remote target (always on the local one).
    openapi_examples: int = Field(default=10, ge=1, le=10_000)
    openapi_state_changing: bool = False
    # Login timing: most pairs measured before giving up (inconclusive), and the smallest
    # difference that counts as a leak (default: the larger of 10 ms and 5% of a login).
    timing_max_pairs: int = Field(default=100, ge=12, le=2000)
    timing_delta_ms: float | None = Field(default=None, gt=0)
    timing_alpha: float = Field(default=1e-3, gt=0, lt=0.5)
    # Longest total wait (s) for the login limit to reset while pacing timing requests.
    max_pacing_wait: int = Field(default=600, ge=0)


class GreyBox(Strict):
    secret_env: str
    algorithm: str = "HS256"


class Profile(Strict):
    name: str = "target"
    base_url: str | None = None
    login: Login = Field(default_factory=Login)
    tokens: Tokens = Field(default_factory=Tokens)
    endpoints: Endpoints = Field(default_factory=Endpoints)
    routes: Routes
    users: Users
    expectations: Expectations = Field(default_factory=Expectations)
    grey_box: GreyBox | None = None
    audit: AuditOptions = Field(default_factory=AuditOptions)
    # Worker processes behind the target, when known (rate-limit multiplication needs it).
    workers: int | None = Field(default=None, ge=1)


def load_profile(path: Path) -> Profile:
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ProfileError(
            f"{path}: cannot read it ({exc.strerror}); check the --target-profile path"
        ) from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    return parse_profile(raw, source=str(path))


def parse_profile(raw: dict[str, Any], source: str = "profile") -> Profile:
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(f"{source}: {_first_problem(exc)}") from None
    check_environment(profile, source)
    return profile


def check_environment(profile: Profile, source: str = "profile") -> None:
    for role, ref in user_refs(profile).items():
        for attr in ("username_env", "password_env"):
            name = getattr(ref, attr)
            if not os.environ.get(name):
                raise ProfileError(
                    f"{source}: users.{role}.{attr}: environment variable {name} is not set; "
                    f"export {name}=... before running"
                )
    if profile.grey_box and not os.environ.get(profile.grey_box.secret_env):
        name = profile.grey_box.secret_env
        raise ProfileError(
            f"{source}: grey_box.secret_env: environment variable {name} is not set; export it "
            "or remove [grey_box]"
        )


def user_refs(profile: Profile) -> dict[str, UserRef]:
    refs = {"user": profile.users.user}
    if profile.users.admin:
        refs["admin"] = profile.users.admin
    if profile.users.inactive:
        refs["inactive"] = profile.users.inactive
    if profile.users.spare:
        refs["spare"] = profile.users.spare
    return refs


def credentials(ref: UserRef) -> tuple[str, str]:
    return os.environ[ref.username_env], os.environ[ref.password_env]


EXAMPLE = "see the example profile in docs/profiles.md"
# Sections whose values are never echoed back in an error message.
QUIET_SECTIONS = {"users", "grey_box"}


def _first_problem(exc: ValidationError) -> str:
    # An unknown key first: a misspelt key also shows as the missing one it was meant to be.
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = [part for part in error["loc"] if not _is_validator_tag(part)]
    where = ".".join(str(part) for part in loc) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: required field is missing; add it ({EXAMPLE})"
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        if f"{loc[-1]}_env" in known:
            return (
                f"{where}: unknown key; a profile holds no credentials: set {loc[-1]}_env to "
                "the name of an environment variable that holds it"
            )
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else f"remove it or check its spelling ({EXAMPLE})"
        )
        return f"{where}: unknown key; {hint}"
    message = error["msg"].removeprefix("Value error, ")
    if kind.endswith(("_type", "_parsing", "literal_error", "enum")) and isinstance(
        error.get("input"), str | int | float | bool
    ):
        shown = (
            type(error["input"]).__name__
            if loc and loc[0] in QUIET_SECTIONS
            else repr(error["input"])
        )
        message = f"{message}, got {shown}"
    return f"{where}: {message}"


def _is_validator_tag(part: Any) -> bool:
    # pydantic names the branch of a union or a function validator in the location.
    return isinstance(part, str) and (part.startswith(("function-", "union[")) or "[" in part)


def _known_keys(loc: list[Any]) -> list[str]:
    """The field names the model at ``loc`` accepts (for a did-you-mean hint)."""
    model: Any = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = _model_in(field.annotation)
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def dotted(data: Any, path: str) -> Any:
    """``dotted({"user": {"token": "x"}}, "user.token") == "x"``; None when absent."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def audit_overrides(pairs: list[str]) -> dict[str, str]:
    """``["fuzz_examples=1000"]`` -> a dict, checked against AuditOptions' fields."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in AuditOptions.model_fields:
            known = ", ".join(sorted(AuditOptions.model_fields))
            raise ProfileError(f"--audit-option {pair!r}: use KEY=VALUE with KEY one of {known}")
        found[key.strip()] = value.strip()
    with_options(Profile.model_construct(audit=AuditOptions()), found)  # validates the values
    return found


def with_options(profile: Profile, overrides: dict[str, str]) -> Profile:
    """The profile with its [audit] options overridden (command line wins over the file)."""
    if not overrides:
        return profile
    try:
        options = AuditOptions.model_validate({**profile.audit.model_dump(), **overrides})
    except ValidationError as exc:
        raise ProfileError(f"--audit-option: {_first_problem(exc)}") from None
    return profile.model_copy(update={"audit": options})
