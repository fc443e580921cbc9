"""Request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from target_app.core.passwords import MAX_PASSWORD_BYTES


def _plain_text(value: str) -> str:
    # JSON can carry NUL and lone surrogates ("\\ud800"), which bcrypt, UTF-8 and PostgreSQL
    # refuse: a 422 here, not a 500 later. (Pydantic catches surrogates only in some fields.)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_plain_text)]


class RegisterIn(BaseModel):
    email: Text = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: Text = Field(min_length=8, max_length=256)

    @field_validator("password")
    @classmethod
    def _fits_bcrypt(cls, value: str) -> str:
        if len(value.encode()) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
        return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    is_active: bool
    role: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int | None


class RefreshIn(BaseModel):
    refresh_token: Text = Field(max_length=8192)


class LogoutIn(BaseModel):
    refresh_token: Text | None = Field(default=None, max_length=8192)


class EmailIn(BaseModel):
    email: Text = Field(min_length=3, max_length=254)


class VerifyEmailIn(BaseModel):
    token: Text = Field(min_length=1, max_length=1024)


class Message(BaseModel):
    detail: str
