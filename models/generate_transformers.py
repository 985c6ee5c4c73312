"""Writes the bundled transformer networks (run: python models/generate_transformers.py):
ViT-B/16 at 224, BERT-base encoders at 128 and 512 tokens, GPT-2 small prefill at 1024
tokens, and ConvNeXt-T at 224 (LayerNorm on a spatial tensor).

Tokens are D channels of T rows (W = 1), so an H split partitions tokens and a K split
features.  A block's Q, K and V projections are three 1x1 convs (torch fuses them into
one [3D, D] weight: the same MACs and weights); attention is matmul_t (the scores of
each head), softmax, matmul (the context).  GELU folds into the layer before it.  Biases,
LayerNorm's scale and shift, embeddings and the class token are not weights here;
tests/test_transformers.py counts them against the published parameter totals.
"""

from __future__ import annotations

from generate import Builder


class TokenBuilder(Builder):
    """Builder with the token operators; shapes are (C, H, W) as in Builder."""

    def put(self, name: str, op: str, shape: tuple[int, int, int], inputs: list[str] | None = None, **fields) -> str:
        layer = {"name": name, "op": op, **fields}
        if inputs is not None and inputs != [self.last]:
            layer["inputs"] = inputs
        self.layers.append(layer)
        self.shape[name] = shape
        self.last = name
        return name

    def linear(self, name: str, K: int, inputs: list[str] | None = None, residual: str | None = None) -> str:
        _, t, w = self.shape[(inputs or [self.last])[0]]
        return self.put(name, "conv", (K, t, w), inputs, K=K, **({"residual": residual} if residual else {}))

    def norm(self, name: str) -> str:
        return self.put(name, "layernorm", self.shape[self.last])

    def tokens(self, name: str, count: int) -> str:
        return self.put(name, "tokens", (self.shape[self.last][0], count, 1), H=count)

    def attention(self, p: str, x: str, heads: int) -> str:
        """Q, K, V of x, the scores per head, softmax, the context and its projection (+ x)."""
        d, t, _ = self.shape[x]
        src = self.last
        q, k, v = (self.linear(f"{p}_{n}", d, inputs=[src]) for n in "qkv")
        self.put(f"{p}_scores", "matmul_t", (heads * t, t, 1), inputs=[q, k], groups=heads)
        self.put(f"{p}_softmax", "softmax", (heads * t, t, 1), groups=heads)
        self.put(f"{p}_context", "matmul", (d, t, 1), inputs=[self.last, v], groups=heads)
        return self.linear(f"{p}_proj", d, residual=x)

    def pre_ln_block(self, p: str, x: str, heads: int, hidden: int) -> str:
        """ViT and GPT-2: x + attn(ln(x)), then + mlp(ln(.))."""
        d = self.shape[x][0]
        self.norm(f"{p}_ln1")
        a = self.attention(p, x, heads)
        self.norm(f"{p}_ln2")
        self.linear(f"{p}_fc1", hidden)
        return self.linear(f"{p}_fc2", d, residual=a)

    def post_ln_block(self, p: str, x: str, heads: int, hidden: int) -> str:
        """BERT: ln(x + attn(x)), then ln(. + mlp(.))."""
        d = self.shape[x][0]
        self.attention(p, x, heads)
        a = self.norm(f"{p}_ln1")
        self.linear(f"{p}_fc1", hidden)
        self.linear(f"{p}_fc2", d, residual=a)
        return self.norm(f"{p}_ln2")


def vit_b_16() -> None:
    b = TokenBuilder("vit_b_16")
    b.add("patch", K=768, R=16, stride=16, pad=0)
    x = b.tokens("embed", 14 * 14 + 1)
    for i in range(12):
        x = b.pre_ln_block(f"e{i}", x, 12, 3072)
    b.norm("ln")
    b.tokens("cls", 1)
    b.add("head", op="fc", K=1000)
    b.dump("ViT-B/16 (torchvision vit_b_16), 224x224: 196 patches + the class token; "
           "the head reads the class token")


def bert_base(tokens: int) -> None:
    b = TokenBuilder(f"bert_base_{tokens}", c=768, h=tokens, w=1)
    x = b.norm("embed_ln")
    for i in range(12):
        x = b.post_ln_block(f"e{i}", x, 12, 3072)
    b.dump(f"BERT-base encoder (12 layers, 768 features, 12 heads), {tokens} tokens; the input is the sum of "
           "the word, position and type embeddings (table reads); no pooler")


def gpt2_prefill(tokens: int) -> None:
    b = TokenBuilder(f"gpt2_prefill_{tokens}", c=768, h=tokens, w=1)
    x = "input"
    for i in range(12):
        x = b.pre_ln_block(f"h{i}", x, 12, 3072)
    b.norm("ln_f")
    b.dump(f"GPT-2 small prefill of {tokens} tokens (12 layers, 768 features, 12 heads); causal attention "
           "computes every score (the mask folds); the input is the token and position embeddings; "
           "no LM head (tied to the token embedding)")


def convnext_tiny() -> None:
    b = TokenBuilder("convnext_tiny")
    b.add("stem", K=96, R=4, stride=4, pad=0)
    b.norm("stem_ln")
    for stage, (depth, dim) in enumerate(zip((3, 3, 9, 3), (96, 192, 384, 768))):
        if stage:
            b.norm(f"down{stage}_ln")
            b.add(f"down{stage}", K=dim, R=2, stride=2, pad=0)
        for j in range(depth):
            x = b.last
            p = f"s{stage + 1}b{j + 1}"
            b.add(f"{p}_dw", K=dim, R=7, groups=dim)
            b.norm(f"{p}_ln")
            b.add(f"{p}_fc1", K=4 * dim, R=1)
            b.add(f"{p}_fc2", K=dim, R=1, residual=x)
    b.add("avgpool", op="pool", R=7, pad=0)
    b.norm("head_ln")
    b.add("fc", op="fc", K=1000)
    b.dump("ConvNeXt-T (torchvision convnext_tiny), 224x224; LayerNorm over channels; layer scale folds")


if __name__ == "__main__":
    vit_b_16()
    bert_base(128)
    bert_base(512)
    gpt2_prefill(1024)
    convnext_tiny()
