"""C2SP checkpoints: the format, the log's signature, and counting a witness quorum."""

from __future__ import annotations

import pytest

from usepolicy.tlog import (
    Checkpoint,
    CheckpointError,
    Note,
    NoteSigner,
    open_checkpoint,
)

SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
LOG = NoteSigner.generate("example.com/audit")
WITNESSES = [NoteSigner.generate(f"witness.example/w{i}") for i in range(4)]
ROOT = bytes(range(32))


def test_the_spec_example_parses_and_formats_back() -> None:
    checkpoint = Checkpoint.parse(SPEC_EXAMPLE)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.text() == SPEC_EXAMPLE
    with_extension = Checkpoint.parse(SPEC_EXAMPLE + "an extension line\n")
    assert with_extension.extensions == ("an extension line",)
    assert with_extension.text() == SPEC_EXAMPLE + "an extension line\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("example.com/x\n1\n", "at least 3"),
        ("example.com/x\n01\n" + SPEC_EXAMPLE.split("\n")[2] + "\n", "leading zeros"),
        ("example.com/x\n-1\n" + SPEC_EXAMPLE.split("\n")[2] + "\n", "decimal"),
        ("example.com/x\n1\nAAAA\n", "3 bytes"),
        ("example.com/x\n1\n" + SPEC_EXAMPLE.split("\n")[2], "ends in a newline"),
        (SPEC_EXAMPLE + "\n", "non-empty"),
        ("\n1\n" + SPEC_EXAMPLE.split("\n")[2] + "\n", "non-empty"),
    ],
)
def test_malformed_checkpoints(text: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(text)


def signed(size: int = 10, *cosigners: NoteSigner, stamp: int = 1_800_000_000) -> Note:
    note = Checkpoint("example.com/audit", size, ROOT).sign(LOG)
    text = note.text.encode()
    return note.signed(*(w.cosign(text, stamp) for w in cosigners))


def test_the_log_signature_is_required() -> None:
    opened = open_checkpoint(signed().format(), LOG.verifier())
    assert opened.checkpoint == Checkpoint("example.com/audit", 10, ROOT) and not opened.witnesses
    other = NoteSigner.generate("example.com/audit")  # same name, another key
    with pytest.raises(CheckpointError, match="not signed by the log key") as caught:
        open_checkpoint(signed(), other.verifier())
    assert caught.value.code == "not-signed"
    forged = signed().format().replace("\n10\n", "\n11\n")
    with pytest.raises(CheckpointError, match="does not hold") as caught:
        open_checkpoint(forged, LOG.verifier())
    assert caught.value.code == "bad-checkpoint"
    with pytest.raises(CheckpointError, match="type 0x01"):
        open_checkpoint(signed(), LOG.cosigner())
    # a rotated key: either of the log's keys will do
    assert open_checkpoint(signed(), [other.verifier(), LOG.verifier()]).checkpoint.size == 10


def test_a_quorum_counts_distinct_known_witnesses() -> None:
    w0, w1, w2, w3 = WITNESSES
    note = signed(10, w0, w1, NoteSigner.generate("stranger.example"))
    keys = [w.cosigner() for w in (w0, w1, w2)]
    opened = open_checkpoint(note, LOG.verifier(), keys, min_witnesses=2)
    assert [w.name for w in opened.witnesses] == ["witness.example/w0", "witness.example/w1"]
    with pytest.raises(
        CheckpointError, match="2 of the 3 known witnesses cosigned, 3 required"
    ) as c:
        open_checkpoint(note, LOG.verifier(), keys, min_witnesses=3)
    assert c.value.code == "witness-quorum"
    # the same witness named twice, or its line repeated, is still one witness
    doubled = Note.parse(note.format() + note.signatures[1].line())
    with pytest.raises(CheckpointError, match="1 of the 1 known"):
        open_checkpoint(doubled, LOG.verifier(), [w0.cosigner(), w0.cosigner()], min_witnesses=2)
    # a witness's type 0x01 key is taken as its cosigner key
    assert len(open_checkpoint(note, LOG.verifier(), [w0.verifier()]).witnesses) == 1
    # an unknown witness's line never counts, a known witness's bad line refuses the note
    assert open_checkpoint(note, LOG.verifier(), [w3.cosigner()]).witnesses == ()
    bad = note.format().replace(note.signatures[1].line(), w0.cosign(b"other\n", 1).line())
    with pytest.raises(CheckpointError, match=r"witness\.example/w0"):
        open_checkpoint(bad, LOG.verifier(), keys)
