"""Error envelopes, numeric codes and HTTP statuses -> typed exceptions (spec §3.2, §3.3)."""

from __future__ import annotations

import json

import pytest

from kraken_tui import errors as E
from kraken_tui.kraken.rest_errors import check_response, retry_after_s

EP = "/derivatives/api/v3/sendorder"


def _env(err: str) -> bytes:
    return json.dumps({"result": "error", "serverTime": "2016-02-25T09:45:53.818Z", "error": err}).encode()


@pytest.mark.parametrize(
    ("err", "cls"),
    [
        ("apiLimitExceeded", E.RateLimitError),
        ("authenticationError", E.AuthenticationError),
        ("nonceBelowThreshold", E.NonceError),
        ("nonceDuplicate", E.NonceError),
        ("insufficientFunds", E.InsufficientFundsError),
        ("invalidArgument", E.InvalidArgumentError),
        ("requiredArgumentMissing", E.RequiredArgumentMissingError),
        ("marketUnavailable", E.MarketUnavailableError),
        ("accountInactive", E.AccountInactiveError),
        ("notFound", E.NotFoundError),
        ("Server Error", E.ServerError),
        ("Unavailable", E.ServerError),
        ("unknownError", E.ServerError),
        ("Json Parse Error", E.InvalidArgumentError),
        ("contractNotFound", E.ContractNotFoundError),
        ("INSUFFICIENT_MARGIN", E.InsufficientFundsError),
        ("invalidUnit", E.InvalidArgumentError),
    ],
)
def test_documented_error_strings(err, cls):
    with pytest.raises(cls) as ei:
        check_response(EP, 200, {}, _env(err))
    assert type(ei.value) is cls
    assert ei.value.kraken_error == err and ei.value.endpoint == EP and ei.value.http_status == 200


def test_unknown_error_string_is_generic_exchange_error():
    with pytest.raises(E.ExchangeError) as ei:
        check_response(EP, 200, {}, _env("somethingNew"))
    assert type(ei.value) is E.ExchangeError and ei.value.kraken_error == "somethingNew"


def test_numeric_error_forms():
    body = {
        "status": "BAD_REQUEST",
        "result": "error",
        "errors": [{"code": 11, "message": "Argument invalid: orderType"}],
        "serverTime": "2021-08-02T08:06:27.896Z",
    }
    with pytest.raises(E.InvalidArgumentError) as ei:
        check_response(EP, 400, {}, json.dumps(body).encode())
    assert "code 11" in str(ei.value) and ei.value.http_status == 400
    with pytest.raises(E.InsufficientFundsError):
        check_response(
            EP, 500, {}, json.dumps({"errors": [{"code": 92, "message": "INSUFFICIENT_MARGIN"}]}).encode()
        )
    with pytest.raises(E.ContractNotFoundError):
        check_response(
            EP, 400, {}, json.dumps({"result": "error", "errors": [{"code": 87, "message": "x"}]}).encode()
        )


def test_not_found_forms():
    spring = {
        "timestamp": 1627618268981,
        "path": EP,
        "status": 404,
        "error": "Not Found",
        "message": "",
        "requestId": "7ad2fe97-69108954",
    }
    with pytest.raises(E.NotFoundError) as ei:
        check_response(EP, 404, {}, json.dumps(spring).encode())
    assert ei.value.http_status == 404
    with pytest.raises(E.NotFoundError):
        check_response(EP, 404, {}, b'{"status":"NOT_FOUND"}')
    with pytest.raises(E.NotFoundError):
        check_response(EP, 200, {}, b'{"status":"NOT_FOUND"}')


def test_http_statuses_and_bodies():
    with pytest.raises(E.ServerError) as ei:
        check_response(EP, 502, {}, b"<html>bad gateway</html>")
    assert ei.value.http_status == 502 and ei.value.retryable
    with pytest.raises(E.RateLimitError) as ei:
        check_response("/api/history/v3/account-log", 429, {"rate-limit-reset": "12.5"}, b"Too many requests")
    assert ei.value.retry_after_s == 12.5
    with pytest.raises(E.RateLimitError) as ei:
        check_response(EP, 429, {"Retry-After": "3"}, _env("apiLimitExceeded"))
    assert ei.value.retry_after_s == 3.0
    with pytest.raises(E.ProtocolError) as ei:
        check_response(EP, 200, {}, b"not json")
    assert ei.value.source == EP and ei.value.http_status == 200
    with pytest.raises(E.ProtocolError):
        check_response(EP, 200, {}, b"")


def test_success_bodies_pass_through():
    ok = {"result": "success", "sendStatus": {"status": "insufficientAvailableFunds"}}
    assert check_response(EP, 200, {}, json.dumps(ok).encode()) == ok  # a rejection status is not an error
    dms = {"result": "success", "status": {"currentTime": "x", "triggerTime": "0"}}
    assert check_response(EP, 200, {}, json.dumps(dms).encode()) == dms
    log = {"accountUid": "u", "logs": []}
    assert check_response("/api/history/v3/account-log", 200, {}, json.dumps(log).encode()) == log


def test_retry_after_header_parsing():
    assert retry_after_s({"rate-limit-reset": "5"}) == 5.0
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_s({"Retry-After": "-1"}) is None
    assert retry_after_s({}) is None
