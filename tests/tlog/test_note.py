"""C2SP signed notes and cosignatures: Go's sumdb/note vectors, the specs' examples,
and every way a note or key can be wrong."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from usepolicy.tlog import COSIGNATURE_V1, ED25519, Note, NoteError, NoteSigner, NoteVerifier

# golang.org/x/mod/sumdb/note's documented example (note.go, note_test.go)
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def test_go_signer_key_signs_exactly_as_go_does() -> None:
    signer = NoteSigner.from_skey(SKEY)
    assert signer.skey == SKEY and signer.verifier().vkey == VKEY
    assert Note(TEXT).signed(signer.sign(TEXT.encode())).format() == TEXT + "\n" + PETER


def test_go_notes_verify_and_unknown_keys_are_ignored() -> None:
    peter = NoteVerifier.from_vkey(VKEY)
    assert (peter.name, peter.key_id, peter.key_type) == ("PeterNeumann", 0xC74F20A3, ED25519)
    assert Note.parse(TEXT + "\n" + PETER).verify([peter]) == [peter]
    both = Note.parse(TEXT + "\n" + PETER + ENOCH)
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    assert both.signatures[1].key_id == 0xAF0CFE78
    assert both.verify([peter]) == [peter]  # EnochRoot is unknown: ignored
    assert both.verify([]) == []
    # duplicates of a known line count once; a corrupt line of an unknown key is ignored
    enoch_changed = ENOCH[:60] + "ABCD" + ENOCH[60:]
    assert Note.parse(TEXT + "\n" + PETER + PETER + ENOCH + enoch_changed).verify([peter]) == [
        peter
    ]


def test_a_known_keys_bad_signature_refuses_the_note() -> None:
    peter = NoteVerifier.from_vkey(VKEY)
    bad = TEXT + "\n" + PETER[:60] + "ABCD" + PETER[60:]
    with pytest.raises(NoteError, match=r"PeterNeumann.*does not hold"):
        Note.parse(bad).verify([peter])
    changed = TEXT.replace("problem", "solution", 1) + "\n" + PETER
    with pytest.raises(NoteError, match="does not hold"):
        Note.parse(changed).verify([peter])


@pytest.mark.parametrize(
    "data",
    [
        TEXT,  # Go's malformed-note cases
        TEXT + "\n",
        TEXT + "\n" + PETER[:-1],
        "\x01" + TEXT + "\n" + PETER,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER + "Unexpected line.\n",
        TEXT + "\n" + "— PeterNeumann AAAA\n",  # too short
        TEXT
        + "\n"
        + "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
        TEXT
        + "\n"
        + "— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + PETER * 101,
    ],
)
def test_malformed_notes(data: str) -> None:
    with pytest.raises(NoteError):
        Note.parse(data)


def test_bytes_that_are_not_utf8_or_too_many() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        Note.parse(b"\xff" + TEXT.encode() + b"\n" + PETER.encode())
    with pytest.raises(NoteError, match="limit"):
        Note.parse(b"x" * (1 << 20) + b"\n\n" + PETER.encode())


def test_the_signed_note_spec_example_parses() -> None:
    example = (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        "\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    )
    note = Note.parse(example)
    assert (
        note.text.endswith("ed è subito sera.\n") and "\n\n" in note.text
    )  # the last blank line splits
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert note.format() == example


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("PeterNeumann+c74f20a3", "reads <name>"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not this key's"),
        ("PeterNeumann+zzzzzzzz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not hex"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("PeterNeumann+c74f20a3+AwEB", "not supported"),
        ("PeterNeumann+c74f20a3+AQEB", "32 bytes"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_bad_verifier_keys(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize(
    ("skey", "message"),
    [
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "reads PRIVATE"),
        (SKEY.replace("c74f20a3", "c74f20a4"), "not this key's"),
        (SKEY.replace("+AYEK", "+AoEK"), "type 0x01"),
        (VKEY, "reads PRIVATE"),
    ],
)
def test_bad_signer_keys(skey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        NoteSigner.from_skey(skey)


def test_cosignatures_are_timestamped_and_typed() -> None:
    witness = NoteSigner.generate("witness.example/w1")
    cosigner = witness.cosigner()
    assert cosigner.key_type == COSIGNATURE_V1 and cosigner.key_id != witness.verifier().key_id
    assert NoteVerifier.from_vkey(cosigner.vkey) == cosigner
    assert witness.verifier().as_cosigner() == cosigner
    signature = witness.cosign(TEXT.encode(), 1679315147)
    assert signature.timestamp == 1679315147 and len(signature.signature) == 72
    note = Note(TEXT).signed(signature)
    assert note.verify([cosigner]) == [cosigner]
    assert note.verify([witness.verifier()]) == []  # a type 0x01 key is another key id
    # the signed message commits to the time: another time is another message
    moved = signature.signature[:7] + bytes([signature.signature[7] ^ 1]) + signature.signature[8:]
    with pytest.raises(NoteError, match="does not hold"):
        Note(TEXT).signed(type(signature)(signature.name, signature.key_id, moved)).verify(
            [cosigner]
        )
    with pytest.raises(NoteError, match="out of range"):
        witness.cosign(TEXT.encode(), 2**63)


def test_the_cosignature_spec_example_line() -> None:
    """tlog-cosignature's example line carries the key id and the time of its example
    message (``time 1679315147``); its key is not published, so only the layout is
    checked."""
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    log, cosig = Note.parse(example).signatures
    assert len(log.signature) == 64 and log.timestamp is None
    assert cosig.key_id == 0x8D66CF3F and cosig.timestamp == 1679315147


def test_key_files(tmp_path: Path) -> None:
    from usepolicy.tlog import generate_note_key

    signer, private, public = generate_note_key(tmp_path / "log.key", "example.com/audit")
    assert private.stat().st_mode & 0o777 == 0o600
    assert NoteSigner.from_file(private).skey == signer.skey
    assert NoteVerifier.from_file(public) == signer.verifier()
    _, _, witness = generate_note_key(tmp_path / "w.key", "w.example", witness=True)
    assert NoteVerifier.from_file(witness).key_type == COSIGNATURE_V1
    with pytest.raises(FileExistsError):
        generate_note_key(tmp_path / "log.key", "example.com/audit")
    (tmp_path / "pem").write_text(
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
    )
    with pytest.raises(NoteError, match="PEM key"):
        NoteVerifier.from_file(tmp_path / "pem")
    with pytest.raises(NoteError, match="key name"):
        generate_note_key(tmp_path / "x.key", "has space")
    assert base64.b64decode(public.read_text().split("+", 2)[2])[0] == ED25519


def test_without_cryptography_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    import sys

    from usepolicy.audit import SigningUnavailableError

    note = Note.parse(TEXT + "\n" + PETER)
    peter = NoteVerifier.from_vkey(VKEY)  # parsing keys and notes needs no cryptography
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)  # makes the import fail
    for action in (lambda: NoteSigner.generate("x"), lambda: note.verify([peter])):
        with pytest.raises(SigningUnavailableError, match=r"pip install 'usepolicy\[sign\]'"):
            action()
