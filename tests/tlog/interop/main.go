// Command interop checks usepolicy's transparency-log output with Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog, and makes output of Go's for
// usepolicy to check. It is built and run by tests/tlog/test_interop.py.
//
//	interop check < request.json   verify usepolicy's notes, checkpoints and proofs
//	interop make  < request.json   make keys, notes, checkpoints and proofs with Go
//
// Both read one JSON object on stdin and write one on stdout. Cosignatures
// (C2SP tlog-cosignature/v1, key type 0x04) are not in x/mod v0.7.0: they are
// implemented here from the spec, on top of note.Open and note.Sign, which parse
// and write the signature lines and match key names and ids.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// -- cosignature/v1 ---------------------------------------------------------------------

const algCosignatureV1 = 0x04

func keyID(name string, key []byte) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	return binary.BigEndian.Uint32(h[:4])
}

func cosignedMessage(t uint64, msg []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
}

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosigVerifier) Name() string    { return v.name }
func (v cosigVerifier) KeyHash() uint32 { return v.hash }
func (v cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.key, cosignedMessage(t, msg), sig[8:])
}

// newCosigVerifier parses a type 0x04 verifier key: <name>+<hex id>+<base64(0x04||key)>.
func newCosigVerifier(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed cosigner key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errors.New("not a cosignature/v1 Ed25519 key")
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || uint32(id) != keyID(parts[0], raw) {
		return nil, errors.New("cosigner key id does not match")
	}
	return cosigVerifier{parts[0], uint32(id), ed25519.PublicKey(raw[1:])}, nil
}

type cosigSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	time uint64
}

func (s cosigSigner) Name() string    { return s.name }
func (s cosigSigner) KeyHash() uint32 { return s.hash }
func (s cosigSigner) Sign(msg []byte) ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, s.time)
	return append(out, ed25519.Sign(s.key, cosignedMessage(s.time, msg))...), nil
}

// -- checkpoints and proofs ------------------------------------------------------------

type checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// parseCheckpoint reads a C2SP checkpoint's note text (origin, size, root, extensions).
func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 || !strings.HasSuffix(text, "\n") {
		return checkpoint{}, errors.New("not a checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, errors.New("bad tree size")
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{lines[0], size, root}, nil
}

type inclusionProof struct {
	Index    int64       `json:"index"`
	TreeSize int64       `json:"tree_size"`
	LeafHash tlog.Hash   `json:"leaf_hash"`
	RootHash tlog.Hash   `json:"root_hash"`
	Hashes   []tlog.Hash `json:"hashes"`
}

type consistencyProof struct {
	OldSize int64       `json:"old_size"`
	NewSize int64       `json:"new_size"`
	Hashes  []tlog.Hash `json:"hashes"`
}

// -- check: usepolicy's output, read by Go ---------------------------------------------

type checkRequest struct {
	LogKey      string   `json:"log_key"`
	WitnessKeys []string `json:"witness_keys"`
	Checkpoints []string `json:"checkpoints"`
	Leaves      []string `json:"leaves"` // base64 records, to hash with tlog.RecordHash
	Inclusion   []struct {
		Checkpoint int            `json:"checkpoint"`
		Proof      inclusionProof `json:"proof"`
	} `json:"inclusion"`
	Consistency []struct {
		Old   int              `json:"old"`
		New   int              `json:"new"`
		Proof consistencyProof `json:"proof"`
	} `json:"consistency"`
}

type openedCheckpoint struct {
	Error     string   `json:"error,omitempty"`
	Origin    string   `json:"origin"`
	Size      int64    `json:"size"`
	Root      string   `json:"root"`
	Signers   []string `json:"signers"`
	Unchecked int      `json:"unverified_signatures"`
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func check(req checkRequest) (map[string]any, error) {
	logVerifier, err := note.NewVerifier(req.LogKey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	verifiers := []note.Verifier{logVerifier}
	for _, k := range req.WitnessKeys {
		v, err := newCosigVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("witness key: %w", err)
		}
		verifiers = append(verifiers, v)
	}
	known := note.VerifierList(verifiers...)
	opened := make([]openedCheckpoint, len(req.Checkpoints))
	trees := make([]checkpoint, len(req.Checkpoints))
	for i, text := range req.Checkpoints {
		n, err := note.Open([]byte(text), known)
		if err != nil {
			opened[i].Error = err.Error()
			continue
		}
		cp, err := parseCheckpoint(n.Text)
		if err != nil {
			opened[i].Error = err.Error()
			continue
		}
		trees[i] = cp
		opened[i] = openedCheckpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String(),
			Unchecked: len(n.UnverifiedSigs)}
		for _, s := range n.Sigs {
			opened[i].Signers = append(opened[i].Signers, s.Name)
		}
	}
	var leafHashes []string
	for _, l := range req.Leaves {
		data, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			return nil, err
		}
		leafHashes = append(leafHashes, tlog.RecordHash(data).String())
	}
	var inclusion, consistency []string
	for _, c := range req.Inclusion {
		cp, p := trees[c.Checkpoint], c.Proof
		err := tlog.CheckRecord(tlog.RecordProof(p.Hashes), cp.Size, cp.Root, p.Index, p.LeafHash)
		if err == nil && p.TreeSize != cp.Size {
			err = errors.New("proof for another tree size")
		}
		inclusion = append(inclusion, errText(err))
	}
	for _, c := range req.Consistency {
		old, cur, p := trees[c.Old], trees[c.New], c.Proof
		err := tlog.CheckTree(tlog.TreeProof(p.Hashes), cur.Size, cur.Root, old.Size, old.Root)
		if err == nil && (p.OldSize != old.Size || p.NewSize != cur.Size) {
			err = errors.New("proof for other sizes")
		}
		consistency = append(consistency, errText(err))
	}
	return map[string]any{
		"checkpoints": opened, "leaf_hashes": leafHashes,
		"inclusion": inclusion, "consistency": consistency,
	}, nil
}

// -- make: Go's output, for usepolicy to read ------------------------------------------

type makeRequest struct {
	Name        string     `json:"name"`
	WitnessName string     `json:"witness_name"`
	Time        uint64     `json:"time"`
	Leaves      []string   `json:"leaves"`
	Sizes       []int64    `json:"sizes"`
	Inclusion   [][2]int64 `json:"inclusion"`   // (index, size)
	Consistency [][2]int64 `json:"consistency"` // (old, new)
	Nodes       [][2]int64 `json:"nodes"`       // (level, n) for StoredHashIndex
}

type memory []tlog.Hash

func (m *memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*m)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = (*m)[x]
	}
	return out, nil
}

func makeAll(req makeRequest) (map[string]any, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, req.Name)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	wskey, _, err := note.GenerateKey(rand.Reader, req.WitnessName)
	if err != nil {
		return nil, err
	}
	wraw, _ := base64.StdEncoding.DecodeString(strings.SplitN(wskey, "+", 5)[4])
	wpriv := ed25519.NewKeyFromSeed(wraw[1:])
	wpub := append([]byte{algCosignatureV1}, wpriv.Public().(ed25519.PublicKey)...)
	wid := keyID(req.WitnessName, wpub)
	witness := cosigSigner{req.WitnessName, wid, wpriv, req.Time}
	wvkey := fmt.Sprintf("%s+%08x+%s", req.WitnessName, wid, base64.StdEncoding.EncodeToString(wpub))

	var stored memory
	for i, l := range req.Leaves {
		data, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			return nil, err
		}
		hashes, err := tlog.StoredHashes(int64(i), data, &stored)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hashes...)
	}
	checkpoints := map[string]string{}
	for _, size := range req.Sizes {
		root, err := tlog.TreeHash(size, &stored)
		if err != nil {
			return nil, err
		}
		text := fmt.Sprintf("%s\n%d\n%s\n", req.Name, size, root)
		msg, err := note.Sign(&note.Note{Text: text}, signer, witness)
		if err != nil {
			return nil, err
		}
		checkpoints[strconv.FormatInt(size, 10)] = string(msg)
	}
	var inclusion []inclusionProof
	for _, c := range req.Inclusion {
		p, err := tlog.ProveRecord(c[1], c[0], &stored)
		if err != nil {
			return nil, err
		}
		root, _ := tlog.TreeHash(c[1], &stored)
		leaf := stored[tlog.StoredHashIndex(0, c[0])]
		inclusion = append(inclusion, inclusionProof{c[0], c[1], leaf, root, p})
	}
	var consistency []consistencyProof
	for _, c := range req.Consistency {
		p, err := tlog.ProveTree(c[1], c[0], &stored)
		if err != nil {
			return nil, err
		}
		consistency = append(consistency, consistencyProof{c[0], c[1], p})
	}
	var nodes [][3]int64
	for _, n := range req.Nodes {
		nodes = append(nodes, [3]int64{n[0], n[1], tlog.StoredHashIndex(int(n[0]), n[1])})
	}
	return map[string]any{
		"log_skey": skey, "log_vkey": vkey, "witness_vkey": wvkey,
		"checkpoints": checkpoints, "inclusion": inclusion, "consistency": consistency,
		"stored_hash_index": nodes, "stored_hash_count": tlog.StoredHashCount(int64(len(req.Leaves))),
	}, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: interop check|make < request.json")
		os.Exit(2)
	}
	var out map[string]any
	var err error
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	switch os.Args[1] {
	case "check":
		var req checkRequest
		if err = dec.Decode(&req); err == nil {
			out, err = check(req)
		}
	case "make":
		var req makeRequest
		if err = dec.Decode(&req); err == nil {
			out, err = makeAll(req)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}
