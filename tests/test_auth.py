"""REST Authent and WebSocket challenge signing against every vector of spec §2.3 and §2.4."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.kraken.auth import (
    NonceSource,
    RestSigner,
    decode_secret,
    endpoint_path_for_signing,
    sign_challenge,
    sign_rest,
)

SECRET_A = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
SECRET_B = "rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG"
SECRET_D = "DuWQ3317vPm8tlOoylWmhfQJwGkKiR+ABuNNocaPxU2DA5H9aZAKkGO0sYBSGKirtdlkm8dL9DAp6husEABgWyOr"

REST_VECTORS = [
    # (name, secret, postData, nonce, path, expected) -- spec §2.3
    ("A", SECRET_A, "orderType=lmt&symbol=PI_XBTUSD", "1616492376594", "/derivatives/api/v3/sendorder",
     "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="),
    ("A-stripped", SECRET_A, "orderType=lmt&symbol=PI_XBTUSD", "1616492376594", "/api/v3/sendorder",
     "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="),
    ("B", SECRET_B, "symbol=fi_xbtusd_180615", "1415957147987", "/api/v3/orderbook",
     "DqUyz8Wh/72af7dimSXHw91IFxrAriTgVodyg2s67PU2mVStwLDQak+uIoCtfb43XONq0xVAp+vm5dqnhFAB1Q=="),
    ("C", SECRET_B, "symbol=fi_xbtusd_180615", "", "/api/v3/orderbook",
     "BGOdiF//YXbOtKUkyFFRqKAft7gai33YfScxFrXMdMHGUJ6wSaMA6y0p6UzfYzj5Flgvv+SFQe53h2KrEe37Ng=="),
    ("D", SECRET_D,
     "orderType=lmt&symbol=PI_XBTUSD&side=buy&size=1&limitPrice=44587.5&cliOrdId=123%2B%2F%3D&reduceOnly=false",
     "1629361663947", "/api/v3/sendorder",
     "YU08zbwSTBmsVOSQQh8EPPW6eAZUmqgpRy6t5EmO2j/5aEyX3LTw1G2H+CP0dqUWOhLIFoQAXuZQcK5vU/B/qQ=="),
    ("D-decoded-legacy", SECRET_D,
     "orderType=lmt&symbol=PI_XBTUSD&side=buy&size=1&limitPrice=44587.5&cliOrdId=123+/=&reduceOnly=false",
     "1629361663947", "/api/v3/sendorder",
     "gq6mJGJJ/E1+Sv5fYBVMsDZYPPv2rfyCaPnwd4WYmz1uao2Mqix+NRd2mvSl4kSX6/nHrLxhSr4txnVVaXEb/Q=="),
    ("derived-history", SECRET_A, "count=10&sort=asc", "1700000000000", "/api/history/v3/account-log",
     "uhhyKlWhfNaayJtMX+GSGUK97TAHVHjeflHDlE6MWLwZsbmz2WxTRp99sByC7s9cAGR6eYvGdG7Dykpiba3lhA=="),
    ("derived-empty", SECRET_A, "", "", "/api/v3/openpositions",
     "HC4ntDo5e7C/1GLTLj5R5PsKU54VpbNDGlzfH5vG738h76Mcr5cqf92lqJtzf6Vb85H14IlufeuQ4t0/j6RC8Q=="),
    ("derived-batch", SECRET_A,
     "json=%7B%22batchOrder%22%3A%5B%7B%22order%22%3A%22cancel%22%2C%22order_id%22%3A%223d080c9b-6a50-45c1-8365-11c00295f011%22%7D%5D%7D",
     "1700000000001", "/api/v3/batchorder",
     "eh1JI8U1LidGfueI7wBYfVphGOjzCQP6afRhVl2c+YszlauEb1xWU4iuI2Iu8w46tyBPkPE10Vcbuv9i+DYtbw=="),
]


@pytest.mark.parametrize("name,secret,post_data,nonce,path,expected", REST_VECTORS, ids=[v[0] for v in REST_VECTORS])
def test_rest_signature_vectors(name, secret, post_data, nonce, path, expected):
    assert sign_rest(secret, post_data, nonce, path) == expected


@pytest.mark.parametrize("name,secret,post_data,nonce,path,expected", REST_VECTORS, ids=[v[0] for v in REST_VECTORS])
def test_rest_signer_meets_every_vector_and_signs_again_the_same(name, secret, post_data, nonce, path, expected):
    signer = RestSigner(secret)
    assert signer.sign(post_data, nonce, path) == expected
    assert signer.sign("other=1", "1", path) != expected  # the keyed state is copied, never consumed
    assert signer.sign(post_data, nonce, path) == expected
    assert secret not in repr(signer)


@given(st.binary(min_size=1, max_size=200), st.text(max_size=200), st.text(alphabet="0123456789", max_size=20),
       st.sampled_from(["/derivatives/api/v3/sendorder", "/api/history/v3/account-log", "/api/v3/x"]))
def test_rest_signer_equals_sign_rest(secret, post_data, nonce, path):
    assert RestSigner(secret).sign(post_data, nonce, path) == sign_rest(secret, post_data, nonce, path)


def test_rest_signer_refuses_a_secret_that_is_not_base64_without_echoing_it():
    with pytest.raises(ValueError) as info:
        RestSigner("not*base64*secret!")
    assert "not*base64" not in str(info.value)


def test_decoded_form_differs_from_encoded_form():
    enc = REST_VECTORS[4]
    dec = REST_VECTORS[5]
    assert sign_rest(enc[1], enc[2], enc[3], enc[4]) != sign_rest(dec[1], dec[2], dec[3], dec[4])


@pytest.mark.parametrize(
    "challenge,secret,expected",
    [
        ("c100b894-1729-464d-ace1-52dbce11db42",
         "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm",
         "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="),
        ("c100b894-1729-464d-ace1-52dbce11db42", SECRET_A,
         "Om9WivnGnEj5wOuzgtOoGZ+Kh1SZotkbC8Hh8Hi63Kbuz9PeJQjarTtzCdjag08RvSMRkeg+krSgQQyK3N9c7A=="),
    ],
    ids=["official", "derived"],
)
def test_ws_challenge_vectors(challenge, secret, expected):
    assert sign_challenge(secret, challenge) == expected


def test_endpoint_path_stripping():
    assert endpoint_path_for_signing("/derivatives/api/v3/sendorder") == "/api/v3/sendorder"
    assert endpoint_path_for_signing("/api/history/v3/account-log") == "/api/history/v3/account-log"


def test_bad_secret_error_does_not_echo_the_secret():
    with pytest.raises(ValueError) as info:
        decode_secret("not*base64*secret!")
    assert "not*base64" not in str(info.value)


def test_nonces_strictly_increase_even_when_the_clock_stalls():
    src = NonceSource(clock_ms=lambda: 1_700_000_000_000)
    values = [int(src()) for _ in range(20_001)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))


@given(st.text(max_size=200), st.text(alphabet="0123456789", max_size=20))
def test_signature_is_always_88_chars_of_base64(post_data, nonce):
    sig = sign_rest(SECRET_A, post_data, nonce, "/derivatives/api/v3/sendorder")
    assert len(sig) == 88 and sig.endswith("==")
