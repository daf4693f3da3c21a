"""Realistic synthetic papers and typed queries for the search benchmark and tests (deterministic per seed).

Real titles share openings and words ("Towards ...", "A Survey on ...", "...: A Benchmark for ..."), name coined
models ("LLaMA-Adapter", "Mamba2") and draw their words from a long-tailed vocabulary. The generator mixes
templates, the bundled sample's real titles (with words swapped for others) and well-known real titles, fills
them from word lists weighted like a Zipf law, and adds a tail of rarer technical words from the sample's
abstracts. Queries are typed the way people type: the first words, a word dropped, a typo or two, words out of
order, half-remembered words plus a vague one, or an author's surname with two title words.
"""

from __future__ import annotations

import json
import random
import re
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "data" / "sample_daily_papers.json"

REAL_TITLES = """Attention Is All You Need
BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding
Deep Residual Learning for Image Recognition
Denoising Diffusion Probabilistic Models
LLaMA: Open and Efficient Foundation Language Models
LLaMA-Adapter: Efficient Fine-tuning of Language Models with Zero-init Attention
Mamba: Linear-Time Sequence Modeling with Selective State Spaces
Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State Space Duality
LoRA: Low-Rank Adaptation of Large Language Models
Chain-of-Thought Prompting Elicits Reasoning in Large Language Models
Language Models are Few-Shot Learners
An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale
High-Resolution Image Synthesis with Latent Diffusion Models
Learning Transferable Visual Models From Natural Language Supervision
Training language models to follow instructions with human feedback
Direct Preference Optimization: Your Language Model is Secretly a Reward Model
FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness
QLoRA: Efficient Finetuning of Quantized LLMs
Segment Anything
Visual Instruction Tuning
Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks
Scaling Laws for Neural Language Models
Toolformer: Language Models Can Teach Themselves to Use Tools
ReAct: Synergizing Reasoning and Acting in Language Models
Tree of Thoughts: Deliberate Problem Solving with Large Language Models
Mixtral of Experts
Neural Radiance Fields for View Synthesis
3D Gaussian Splatting for Real-Time Radiance Field Rendering
Proximal Policy Optimization Algorithms
Generative Adversarial Networks
Auto-Encoding Variational Bayes
Adam: A Method for Stochastic Optimization
Graph Attention Networks
A Survey of Large Language Models
Self-Consistency Improves Chain of Thought Reasoning in Language Models
Constitutional AI: Harmlessness from AI Feedback
Scaling Instruction-Finetuned Language Models
DINOv2: Learning Robust Visual Features without Supervision
Masked Autoencoders Are Scalable Vision Learners
InstructBLIP: Towards General-purpose Vision-Language Models with Instruction Tuning""".splitlines()

OPENERS = [
    "Towards",
    "Rethinking",
    "Revisiting",
    "Understanding",
    "Scaling",
    "Beyond",
    "Improving",
    "Learning",
    "Efficient",
    "On the",
    "Exploring",
    "Unleashing",
    "Benchmarking",
    "Demystifying",
    "Taming",
]
ADJECTIVES = [
    "efficient",
    "robust",
    "scalable",
    "multimodal",
    "sparse",
    "generalizable",
    "interpretable",
    "adaptive",
    "hierarchical",
    "unified",
    "lightweight",
    "self-supervised",
    "contrastive",
    "causal",
    "federated",
    "differentiable",
    "equivariant",
    "long-context",
    "zero-shot",
    "few-shot",
    "open",
    "fast",
    "stable",
    "private",
    "controllable",
    "compositional",
    "physics-informed",
    "continual",
]
NOUNS = [
    "language models",
    "diffusion models",
    "vision transformers",
    "transformers",
    "LLMs",
    "memory",
    "large language models",
    "point clouds",
    "spiking networks",
    "neural fields",
    "hypernetworks",
    "priors",
    "convolutional networks",
    "recurrent networks",
    "decision trees",
    "bandits",
    "optimizers",
    "features",
    "graph neural networks",
    "neural networks",
    "reinforcement learning",
    "agents",
    "reward models",
    "mixture of experts",
    "state space models",
    "vision-language models",
    "autoencoders",
    "embeddings",
    "retrieval",
    "attention",
    "tokenizers",
    "world models",
    "policy optimization",
    "neural operators",
    "normalizing flows",
    "kernel methods",
    "gaussian processes",
    "speech models",
    "code models",
]
TASKS = [
    "reasoning",
    "image segmentation",
    "code generation",
    "machine translation",
    "question answering",
    "video understanding",
    "text-to-image generation",
    "object detection",
    "protein design",
    "planning",
    "mathematical reasoning",
    "speech recognition",
    "time series forecasting",
    "recommendation",
    "molecule generation",
    "anomaly detection",
    "summarization",
    "image editing",
    "3D reconstruction",
    "autonomous driving",
    "robot manipulation",
    "instruction following",
    "tool use",
    "weather forecasting",
    "pose estimation",
    "depth estimation",
    "entity linking",
    "program synthesis",
    "drug discovery",
    "fact verification",
    "dialogue",
    "image captioning",
    "domain adaptation",
    "active learning",
    "sentiment analysis",
    "music generation",
    "traffic prediction",
    "crystal structure prediction",
]
DOMAINS = [
    "medical imaging",
    "low-resource languages",
    "edge devices",
    "scientific discovery",
    "healthcare",
    "finance",
    "education",
    "robotics",
    "the wild",
    "long videos",
    "remote sensing",
    "chemistry",
]
METHODS = [
    "contrastive learning",
    "knowledge distillation",
    "preference optimization",
    "quantization",
    "pruning",
    "curriculum learning",
    "test-time scaling",
    "prompt tuning",
    "low-rank adaptation",
    "synthetic data",
    "self-play",
    "chain-of-thought",
    "speculative decoding",
    "model merging",
]
TEMPLATES = [
    "{name}: {Adj} {Noun} for {Task}",
    "{Opener} {Adj} {Task} with {rare} {Noun}",
    "A Survey on {rare} {Noun} for {Task}",
    "{Adj} {rare} {Noun} via {Method}",
    "{name}: A Benchmark for {Task} in {Domain}",
    "On the {rare} of {Noun}",
    "{Opener} {rare} {Noun} for {Task} in {Domain}",
    "{Task} with {Adj} {Noun}: A Benchmark for {Domain}",
    "{name}: Scaling {Method} to {Noun}",
    "{rare} {Noun} Is All You Need for {Task}",
    "{Adj} {rare} {Noun}",
    "When {Noun} Meet {Method}: {Adj} {Task}",
    "{Opener} {rare} {Task} via {Method}",
    "{name}: {Adj} {rare} {Task}",
    "{Adj} and {Adj} {Noun} for {rare} {Task}",
    "Can {Noun} {Verb} {Task}? {Adj} {rare} Evaluation",
    "{Task} in {Domain} with {rare} {Noun}",
    "{Opener} {Method} for {Adj} {Noun} in {rare} {Domain}",
]
VERBS = ["solve", "learn", "plan", "generalize to", "improve", "explain", "master", "scale"]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "tor",
    "zen",
    "qu",
    "el",
    "sa",
    "vi",
    "nex",
    "mo",
    "ba",
    "dri",
    "ax",
    "lu",
    "fi",
    "gen",
    "pho",
    "ri",
    "ta",
    "mer",
    "on",
    "cy",
    "dex",
    "ul",
    "ix",
    "pa",
    "yo",
]
FIRST_NAMES = [
    "Ada",
    "Alan",
    "Grace",
    "Wei",
    "Li",
    "Yuki",
    "Hiroshi",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Sofia",
    "Mateo",
    "Lucas",
    "Emma",
    "Olga",
    "Ivan",
    "Chen",
    "Xin",
    "Jie",
    "Min-jun",
    "Seo-yeon",
    "Amara",
    "Kwame",
    "Noah",
    "Liam",
    "Zoe",
    "Ines",
    "Joao",
    "Ana",
    "Marta",
    "Pierre",
    "Chloe",
    "Hans",
    "Greta",
    "Lars",
    "Ingrid",
    "Raj",
    "Ananya",
    "Mehmet",
    "Elif",
    "Dmitri",
    "Katya",
    "Tomas",
    "Eva",
    "Jakub",
    "Zsofia",
    "Yara",
    "Diego",
    "Lucia",
    "Sipho",
    "Thandi",
    "Nguyen",
    "Minh",
    "Hoang",
    "Siddharth",
    "Aisha",
    "Ibrahim",
    "Leila",
    "Reza",
    "Sara",
    "Maya",
    "Ethan",
    "Ava",
]
SURNAMES = [
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Luo",
    "Kim",
    "Lee",
    "Park",
    "Choi",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Rossi",
    "Russo",
    "Bianchi",
    "Dubois",
    "Martin",
    "Bernard",
    "Silva",
    "Santos",
    "Oliveira",
    "Kumar",
    "Singh",
    "Sharma",
    "Patel",
    "Gupta",
    "Ivanov",
    "Smirnov",
    "Kowalski",
    "Nowak",
    "Novak",
    "Horvath",
    "Nagy",
    "Yilmaz",
    "Kaya",
    "Nguyen",
    "Tran",
    "Pham",
    "Okafor",
    "Mensah",
    "Haddad",
    "Hosseini",
    "Cohen",
    "Levi",
    "Andersson",
    "Johansson",
    "Nielsen",
    "Hansen",
    "Schölkopf",
    "Müller",
    "Núñez",
    "Bengio",
    "Hinton",
    "LeCun",
    "Vaswani",
    "Shazeer",
    "Sutskever",
]
VAGUE = ["paper", "the one about", "new", "method", "approach", "study", "2023", "arxiv"]


@dataclass(frozen=True)
class Paper:
    """One generated paper (keywords and abstract only for the few that were on HF Daily Papers)."""

    arxiv_id: str
    title: str
    authors: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    abstract: str | None = None


def _zipf(rng: random.Random, items: list[str], skew: float = 0.7) -> str:
    """An item, the first ones more often (rank r drawn with weight 1/r^skew)."""
    key = (id(items), len(items), skew)
    cumulative = _CUMULATIVE.get(key)
    if cumulative is None:
        cumulative = _CUMULATIVE[key] = list(accumulate(1 / (r + 1) ** skew for r in range(len(items))))
    return items[bisect(cumulative, rng.random() * cumulative[-1])]


_CUMULATIVE: dict[tuple[int, int, float], list[float]] = {}


def _sample_text() -> tuple[list[str], list[str]]:
    """The bundled sample's real titles and the long tail of words in its abstracts."""
    records = json.loads(SAMPLE.read_text(encoding="utf-8"))
    titles = [r["title"] for r in records]
    text = " ".join(r.get("summary") or "" for r in records)
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z][a-z]{4,}", text)})
    return titles, words


def _name(rng: random.Random) -> str:
    """A coined model name: 'Voxtral', 'LLaMA-Adapter'-like compounds, 'Mamba2'-like versions."""
    stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    stem = stem.upper() if rng.random() < 0.15 else stem.capitalize()
    roll = rng.random()
    if roll < 0.25:
        return f"{stem}{rng.randint(2, 4)}"
    if roll < 0.45:
        return f"{stem}-{rng.choice(['Adapter', 'VL', 'R1', 'Coder', 'Bench', 'Agent', 'Zero', 'X'])}"
    if roll < 0.55:
        return f"{stem}{rng.choice(['GPT', 'Net', 'Former', 'Diff', 'LM'])}"
    return stem


def _title(rng: random.Random, real: list[str], tail: list[str]) -> str:
    roll = rng.random()
    if roll < 0.01:  # a real title with one of its words swapped for another real word
        words = rng.choice(real).split()
        words[rng.randrange(len(words))] = rng.choice(tail)
        return " ".join(words)
    fill = {
        "name": _name(rng),
        "Opener": _zipf(rng, OPENERS),
        "Adj": _zipf(rng, ADJECTIVES).capitalize(),
        "Noun": _zipf(rng, NOUNS).title(),
        "Task": _zipf(rng, TASKS).title(),
        "Domain": _zipf(rng, DOMAINS),
        "Method": _zipf(rng, METHODS).title(),
        "rare": rng.choice(tail).capitalize(),
        "Verb": rng.choice(VERBS),
    }
    template = rng.choice(TEMPLATES)
    title = template.format(**fill)
    if "{Adj} and {Adj}" in template:
        title = title.replace(f"{fill['Adj']} and {fill['Adj']}", f"{fill['Adj']} and {_zipf(rng, ADJECTIVES)}")
    return title


def _tail_words(rng: random.Random, sample_words: list[str]) -> list[str]:
    """Technical words: the sample's abstract words plus coined compounds ('neurosymbolic', 'hypergraph')."""
    roots = [w for w in sample_words if len(w) <= 9]
    heads = [
        "hyper",
        "neuro",
        "meta",
        "multi",
        "poly",
        "geo",
        "bio",
        "quasi",
        "auto",
        "co",
        "cross",
        "micro",
        "nano",
        "photo",
        "thermo",
        "electro",
        "chrono",
        "topo",
        "iso",
        "para",
        "pseudo",
        "semi",
        "ultra",
    ]
    coined = {rng.choice(heads) + rng.choice(roots) for _ in range(60_000)}
    return sample_words + sorted(coined)


def _surname(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return _zipf(rng, SURNAMES, 0.8)
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def papers(count: int, seed: int = 7) -> Iterator[Paper]:
    """`count` papers with distinct new-style arXiv ids; about 3% carry HF keywords and an abstract."""
    rng = random.Random(seed)
    real, sample_words = _sample_text()
    tail = _tail_words(rng, sample_words)
    real += REAL_TITLES
    for n in range(count):
        month, number = divmod(n, 99_999)
        arxiv_id = f"{15 + month // 12:02d}{month % 12 + 1:02d}.{number + 1:05d}"
        title = real[n] if n < len(real) else _title(rng, real, tail)
        authors = tuple(f"{rng.choice(FIRST_NAMES)} {_surname(rng)}" for _ in range(rng.randint(1, 7)))
        if rng.random() < 0.03:
            keywords = tuple(_zipf(rng, TASKS + NOUNS + METHODS) for _ in range(rng.randint(2, 5)))
            abstract = " ".join([title, *(_zipf(rng, tail, 0.6) for _ in range(rng.randint(60, 120)))])
            yield Paper(arxiv_id, title, authors, keywords, abstract)
        else:
            yield Paper(arxiv_id, title, authors)


@dataclass(frozen=True)
class Query:
    """A query someone would type looking for `target`, and how it was made."""

    text: str
    target: str
    kind: str


KINDS = ("prefix", "dropped", "typo", "order", "half", "author")


def _typo(rng: random.Random, word: str) -> str:
    """`word` with one letter swapped with the next, dropped, doubled/inserted or replaced."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + rng.choice("aeioulnrst") + word[i:]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]


def _content(words: list[str]) -> list[str]:
    return [w for w in words if len(w) > 3 and w.lower() not in {"with", "from", "towards", "using"}]


def make_query(paper: Paper, kind: str, rng: random.Random, rarity: Callable[[str], int] = len) -> str:
    """A query of `kind` (one of KINDS) for `paper`; `rarity` ranks words (higher: more telling)."""
    words = re.sub(r"[:?,]", "", paper.title).split()
    if kind == "prefix":
        text = words[: rng.randint(4, 7)]
        if rng.random() < 0.3 and len(text[-1]) > 5:
            text[-1] = text[-1][: rng.randint(3, len(text[-1]) - 1)]  # still typing
        return " ".join(text)
    if kind == "dropped" and len(words) > 3:
        head = words[:8]
        del head[rng.randrange(1, len(head))]
        return " ".join(head)
    if kind == "typo":
        head = words[: rng.randint(4, 7)]
        spots = [i for i, w in enumerate(head) if len(w) >= 5] or [0]
        for i in rng.sample(spots, min(len(spots), rng.randint(1, 2))):
            head[i] = _typo(rng, head[i])
        return " ".join(head)
    if kind == "order":
        head = words[:6]
        rng.shuffle(head)
        return " ".join(head)
    telling = sorted(_content(words) or words, key=rarity, reverse=True)  # people remember the telling words
    if kind == "half":
        chosen = rng.sample(telling[:3], min(len(telling), rng.randint(2, 3)))
        chosen[0] = _typo(rng, chosen[0])
        return " ".join([*chosen, rng.choice(VAGUE)]).lower()
    if kind == "author":
        surname = rng.choice(paper.authors).split()[-1]
        return " ".join([surname.lower(), *telling[:2]])
    return " ".join(words[:5])


def queries(corpus: list[Paper], count: int, seed: int = 11) -> list[Query]:
    """`count` queries for papers drawn at random from `corpus`, the kinds in turn. Half-remembered and author
    queries use the title's most telling words: those fewest titles of the corpus have."""
    rng = random.Random(seed)
    targets = [rng.choice(corpus) for _ in range(count)]
    wanted = {w.lower() for p in targets for w in re.sub(r"[:?,]", "", p.title).split()}
    held = Counter(w for p in corpus for w in set(p.title.lower().split()) if w in wanted)
    out = []
    for n, paper in enumerate(targets):
        kind = KINDS[n % len(KINDS)]
        text = make_query(paper, kind, rng, lambda w: -held.get(w.lower(), 0))
        out.append(Query(text, paper.arxiv_id, kind))
    return out
