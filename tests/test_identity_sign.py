"""Identity.sign runs on libsodium: its signatures must be pyca's (Ed25519 is deterministic)
and verify under the certificate's key, for any message and buffer type."""
from hypothesis import given, settings, strategies as st
import pytest

from ledger.errors import ArgumentError
from ledger.identity import CertificateAuthority

CA = CertificateAuthority.create()
SIGNER = CA.issue("sensor-1", "device", "edge-0")
OTHER = CA.issue("sensor-2", "device", "edge-0")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_signature_is_pycas_and_verifies(message):
    signature = SIGNER.sign(message)
    assert signature == SIGNER.key.sign(message)
    SIGNER.certificate.public_key().verify(signature, message)  # pyca/OpenSSL accepts it


def test_buffer_types_sign_their_contents():
    assert SIGNER.sign(bytearray(b"abc")) == SIGNER.sign(memoryview(b"xabc")[1:]) == SIGNER.key.sign(b"abc")


def test_another_key_signs_otherwise():
    assert SIGNER.sign(b"m") != OTHER.sign(b"m")


def test_not_bytes_is_an_argument_error():
    with pytest.raises(ArgumentError):
        SIGNER.sign("text")  # type: ignore[arg-type]
