import time

from webhooks.signing import body_for, headers_for, signature_header, verify

SECRET = "test-secret-that-is-long-enough-for-hmac-0123456789"
BODY = body_for(event_id="e1", event="report.created", created_at="2025-03-07T10:00:00+00:00", data={"id": 7})


def test_body_is_compact_json_in_the_documented_shape():
    assert BODY == (b'{"id":"e1","event":"report.created","created_at":"2025-03-07T10:00:00+00:00","data":{"id":7}}')


def test_a_good_signature_verifies():
    header = signature_header(SECRET, BODY)
    assert header.startswith("t=") and ",v1=" in header
    assert verify(SECRET, header, BODY)
    assert verify(SECRET, header, BODY.decode())  # str bodies are taken as UTF-8


def test_a_tampered_body_or_wrong_secret_does_not_verify():
    header = signature_header(SECRET, BODY)
    assert not verify(SECRET, header, BODY.replace(b'"id":7', b'"id":8'))
    assert not verify("another-secret", header, BODY)


def test_a_stale_or_future_timestamp_does_not_verify():
    now = time.time()
    old = signature_header(SECRET, BODY, timestamp=int(now) - 301)
    assert not verify(SECRET, old, BODY, now=now)
    assert verify(SECRET, old, BODY, tolerance=600, now=now)
    ahead = signature_header(SECRET, BODY, timestamp=int(now) + 301)
    assert not verify(SECRET, ahead, BODY, now=now)


def test_malformed_headers_are_just_invalid():
    for header in ("", "garbage", "t=abc,v1=00", "v1=00", f"t={int(time.time())}", "t=1,v1=", "t=²,v1=00"):
        assert not verify(SECRET, header, BODY)


def test_any_of_several_v1_values_may_match_during_a_secret_rotation():
    timestamp = int(time.time())
    good = signature_header(SECRET, BODY, timestamp=timestamp).split(",")[1]
    assert verify(SECRET, f"t={timestamp},v1={'0' * 64},{good}", BODY)


def test_headers_name_the_event_delivery_and_signature():
    headers = headers_for(secret=SECRET, body=BODY, event="report.created", event_id="e1", delivery_id=42)
    assert headers["Content-Type"] == "application/json"
    assert headers["Shelters-Event"] == "report.created"
    assert headers["Shelters-Event-Id"] == "e1"
    assert headers["Shelters-Delivery"] == "42"
    assert verify(SECRET, headers["Shelters-Signature"], BODY)
