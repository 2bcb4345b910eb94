"""Ed25519 signing: round trip, wrong keys, tampered signatures, key files, the import guard."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from usepolicy import AuditLog
from usepolicy._files import InputFileError
from usepolicy.audit import (
    Signer,
    SigningUnavailableError,
    Verifier,
    generate_keypair,
    verify_log,
)

from ..conftest import unblocked
from .conftest import MakeRecord, lines_of


def _signed_log(path: Path, signer: Signer, make_record: MakeRecord, n: int = 4) -> Path:
    with AuditLog(path, signer=signer, durability="none") as log:
        for i in range(n):
            log.append(make_record(deny=bool(i % 2)))
    return path


def test_signed_records_verify_with_the_public_key_only(tmp_path: Path, make_record: MakeRecord):
    signer, _, public = generate_keypair(tmp_path / "key")
    path = _signed_log(tmp_path / "audit.jsonl", signer, make_record)
    result = verify_log(path, public)  # the key file, no secret needed
    assert (result.ok, result.count, result.signed, result.signatures_checked) == (
        True,
        4,
        4,
        True,
    )
    for line in lines_of(path):
        signature = json.loads(line)["signature"]
        assert signature["alg"] == "ed25519"
        assert signature["key_id"] == signer.key_id
        assert len(base64.b64decode(signature["value"])) == 64


def test_the_signature_covers_the_record_digest(tmp_path: Path, make_record: MakeRecord):
    signer = Signer.generate()
    stored = AuditLog(tmp_path / "a.jsonl", signer=signer).append(make_record())
    assert stored.signature is not None
    assert stored.computed_digest() == stored.record_digest  # signing leaves the digest alone
    assert signer.verifier().problem(stored) is None
    assert signer.verifier().problem(signer.sign(make_record())) is None


def test_another_key_fails(tmp_path: Path, make_record: MakeRecord):
    path = _signed_log(tmp_path / "audit.jsonl", Signer.generate(), make_record)
    other = Signer.generate().verifier()
    result = verify_log(path, other)
    assert (result.problem, result.line) == ("bad-signature", 1)
    assert "not with" in str(result.message)


def test_a_forged_key_id_fails(tmp_path: Path, make_record: MakeRecord):
    signer, intruder = Signer.generate(), Signer.generate()
    path = _signed_log(tmp_path / "audit.jsonl", signer, make_record)
    lines = lines_of(path)
    body = json.loads(lines[2])
    value = intruder.signature(body["record_digest"]).value
    body["signature"] = {"alg": "ed25519", "key_id": signer.key_id, "value": value}
    lines[2] = (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()
    path.write_bytes(b"".join(lines))
    assert verify_log(path).ok  # the signature is outside the digest: only a key can tell
    result = verify_log(path, signer.verifier())
    assert (result.problem, result.line) == ("bad-signature", 3)


@pytest.mark.parametrize("value", ["AAAA", "not base64!", ""])
def test_a_tampered_signature_fails(tmp_path: Path, make_record: MakeRecord, value: str):
    signer = Signer.generate()
    path = _signed_log(tmp_path / "audit.jsonl", signer, make_record)
    lines = lines_of(path)
    body = json.loads(lines[1])
    body["signature"]["value"] = value
    lines[1] = (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()
    path.write_bytes(b"".join(lines))
    assert verify_log(path).ok  # without the key, signatures are not checked
    result = verify_log(path, signer.verifier())
    assert (result.problem, result.line) == ("bad-signature", 2)


def test_a_flipped_signature_bit_fails(tmp_path: Path, make_record: MakeRecord):
    signer = Signer.generate()
    path = _signed_log(tmp_path / "audit.jsonl", signer, make_record)
    lines = lines_of(path)
    body = json.loads(lines[3])
    raw = bytearray(base64.b64decode(body["signature"]["value"]))
    raw[10] ^= 1
    body["signature"]["value"] = base64.b64encode(bytes(raw)).decode()
    lines[3] = (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()
    path.write_bytes(b"".join(lines))
    result = verify_log(path, signer.verifier())
    assert (result.problem, result.line, result.count) == ("bad-signature", 4, 3)


def test_unsigned_records_fail_when_a_key_is_given(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(make_record())
    assert verify_log(path).ok
    result = verify_log(path, Signer.generate().verifier())
    assert (result.problem, result.line) == ("unsigned", 1)


def test_rotated_keys_verify_together(tmp_path: Path, make_record: MakeRecord):
    old, new = Signer.generate(), Signer.generate()
    path = _signed_log(tmp_path / "audit.jsonl", old, make_record, 2)
    _signed_log(path, new, make_record, 2)
    assert verify_log(path, [old.verifier(), new.verifier()]).ok
    assert verify_log(path, new.verifier()).line == 1


def test_key_files(tmp_path: Path):
    signer, private, public = generate_keypair(tmp_path / "usepolicy.key")
    assert public == tmp_path / "usepolicy.key.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert Signer.from_file(private).key_id == signer.key_id
    assert Verifier.from_file(public).key_id == signer.key_id
    assert len(signer.key_id) == 16
    raw = serialization.load_pem_public_key(public.read_bytes()).public_bytes_raw()
    assert signer.key_id == hashlib.sha256(raw).hexdigest()[:16]


def test_key_files_are_read_bounded_and_only_when_regular(tmp_path: Path, fifo: Path):
    big = tmp_path / "big.pub"
    big.write_bytes(b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 64 * 1024)
    for path, code in ((fifo, "file-unreadable"), ("/dev/zero", "file-unreadable"),
                       (tmp_path, "file-not-found"), (big, "too-large")):  # fmt: skip
        for load in (Signer.from_file, Verifier.from_file):
            with pytest.raises(InputFileError) as info:  # an OSError, as before
                unblocked(lambda: load(path), fifo)
            assert info.value.code == code


def test_key_files_are_not_overwritten(tmp_path: Path):
    _, private, _ = generate_keypair(tmp_path / "k")
    before = private.read_bytes()
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path / "k")
    assert private.read_bytes() == before
    generate_keypair(tmp_path / "k", overwrite=True)
    assert private.read_bytes() != before


def test_a_private_key_is_not_a_verification_key(tmp_path: Path):
    _, private, _ = generate_keypair(tmp_path / "k")
    with pytest.raises(ValueError, match="private key"):
        Verifier.from_file(private)


def test_without_cryptography_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)  # makes the import fail
    with pytest.raises(SigningUnavailableError) as caught:
        Signer.generate()
    assert isinstance(caught.value, ImportError)
    assert "pip install 'usepolicy[sign]'" in str(caught.value)
