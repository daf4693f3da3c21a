"""Realistic synthetic papers and typed queries for the search benchmark and tests (deterministic per seed).

Real arXiv titles share openings and phrases ("Towards ...", "A Survey on ...", "Measurement of the ... in pp
collisions at 13 TeV"), yet almost every one names something specific: a coined model ("LLaMA-Adapter"), a
method or object ("Bures-Wasserstein", "interatomic potentials"), an astronomical source ("NGC 1068"). And the
vocabulary of those specific words keeps growing with the number of papers (Heaps' law): a million titles do not
reuse the words of a hundred thousand, they bring new ones. The generator follows both: titles from three
fields' templates (machine learning, physics, mathematics), filled from Zipf-weighted phrase lists for the
shared parts and, for the specific parts, from word sources that grow like a real vocabulary (a Pitman-Yor
process: a few terms recur in thousands of titles, most in a handful, and new ones keep coming), plus the bundled
sample's real titles (some with a word swapped) and well-known real ones. Queries are typed the way people type:
the first words, a word dropped, a typo or two, words out of order, half-remembered words plus a vague one, or
an author's surname with two title words; and, as a person types more of a title whose first words many titles
share, each query is lengthened by the title's next (or next most telling) words while 5 or more other titles fit
it as well as the wanted one (`queries`).
"""

from __future__ import annotations

import json
import random
import re
import string
from array import array
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path

import numpy as np
from rapidfuzz.distance import OSA

from bot.search import text as engine_text
from bot.search.text import STOPWORDS

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


def _listed(text: str) -> list[str]:
    """A word list written as comma-separated lines, commonest first."""
    return [item.strip() for item in text.split(",") if item.strip()]


# Machine learning: the shared phrases, commonest first (drawn Zipf-weighted).
OPENERS = _listed("""Towards, Rethinking, Revisiting, Understanding, Scaling, Beyond, Improving, Learning, Efficient,
    On the, Exploring, Unleashing, Benchmarking, Demystifying, Taming, Boosting, Enhancing, Harnessing, Bridging,
    Accelerating, Unlocking, Advancing, Evaluating, Probing, Mitigating, Leveraging""")
ADJECTIVES = _listed("""efficient, robust, scalable, multimodal, sparse, generalizable, interpretable, adaptive,
    hierarchical, unified, lightweight, self-supervised, contrastive, causal, federated, differentiable, equivariant,
    long-context, zero-shot, few-shot, open, fast, stable, private, controllable, compositional, physics-informed,
    continual, bayesian, probabilistic, provable, certified, fair, explainable, distributed, decentralized,
    asynchronous, online, offline, multilingual, cross-lingual, cross-modal, semi-supervised, weakly supervised,
    unsupervised, generative, discriminative, autoregressive, non-autoregressive, invertible, implicit, symbolic,
    neuro-symbolic, geometric, topological, spectral, temporal, spatio-temporal, dynamic, memory-efficient,
    data-efficient, sample-efficient, parameter-efficient, training-free, retrieval-augmented, instruction-tuned,
    aligned, safe, trustworthy, calibrated, uncertainty-aware, noise-robust, adversarial, multi-agent, multi-task,
    multi-view, multi-scale, end-to-end, real-time, on-device, low-latency, quantized, distilled""")
NOUNS = _listed("""language models, diffusion models, vision transformers, transformers, LLMs, memory,
    large language models, point clouds, spiking networks, neural fields, hypernetworks, priors,
    convolutional networks, recurrent networks, decision trees, bandits, optimizers, features, graph neural networks,
    neural networks, reinforcement learning, agents, reward models, mixture of experts, state space models,
    vision-language models, autoencoders, embeddings, retrieval, attention, tokenizers, world models,
    policy optimization, neural operators, normalizing flows, kernel methods, gaussian processes, speech models,
    code models, flow matching, consistency models, energy-based models, graph transformers, capsule networks,
    variational autoencoders, GANs, language agents, multimodal LLMs, small language models, foundation models,
    video diffusion models, 3D Gaussians, radiance fields, implicit representations, sparse autoencoders,
    linear attention, recurrent transformers, neural ODEs, boltzmann machines, random features,
    contextual bandits, Q-learning, actor-critic methods, value functions, reward machines, preference models,
    verifiers, process reward models, classifiers, regression models, ensembles, prototypes, codebooks,
    slot attention, memory networks, knowledge graphs, dense retrievers, rerankers, text encoders, image encoders,
    audio tokenizers, protein language models, molecular graphs, physics simulators, surrogate models""")
TASKS = _listed("""reasoning, image segmentation, code generation, machine translation, question answering,
    video understanding, text-to-image generation, object detection, protein design, planning,
    mathematical reasoning, speech recognition, time series forecasting, recommendation, molecule generation,
    anomaly detection, summarization, image editing, 3D reconstruction, autonomous driving, robot manipulation,
    instruction following, tool use, weather forecasting, pose estimation, depth estimation, entity linking,
    program synthesis, drug discovery, fact verification, dialogue, image captioning, domain adaptation,
    active learning, sentiment analysis, music generation, traffic prediction, crystal structure prediction,
    semantic parsing, named entity recognition, relation extraction, visual grounding, image retrieval,
    video generation, novel view synthesis, optical flow estimation, scene graph generation, motion forecasting,
    trajectory prediction, speaker verification, speech synthesis, audio captioning, sound event detection,
    document understanding, table question answering, text-to-SQL, theorem proving, formal verification,
    bug localization, vulnerability detection, code review, log anomaly detection, causal discovery,
    out-of-distribution detection, continual learning, federated learning, neural architecture search,
    hyperparameter optimization, data augmentation, label noise, long-tailed recognition, open-set recognition,
    person re-identification, face recognition, gait recognition, medical image segmentation, tumor detection,
    cell tracking, genome annotation, single-cell analysis, materials discovery, climate downscaling,
    power grid control, legged locomotion, dexterous grasping, navigation, embodied question answering,
    visual odometry, SLAM, lane detection, hate speech detection, misinformation detection, essay scoring""")
DOMAINS = _listed("""medical imaging, low-resource languages, edge devices, scientific discovery, healthcare,
    finance, education, robotics, the wild, long videos, remote sensing, chemistry, agriculture, astronomy,
    materials science, legal documents, clinical notes, electronic health records, satellite imagery, social media,
    e-commerce, cybersecurity, autonomous vehicles, smart grids, wearable sensors, microscopy, radiology,
    pathology, genomics, manufacturing, software engineering, mobile phones, embedded systems, the browser,
    online advertising, sports analytics, oceanography, seismology, particle physics""")
METHODS = _listed("""contrastive learning, knowledge distillation, preference optimization, quantization, pruning,
    curriculum learning, test-time scaling, prompt tuning, low-rank adaptation, synthetic data, self-play,
    chain-of-thought, speculative decoding, model merging, meta-learning, adversarial training, data pruning,
    token merging, mixture-of-depths, early exiting, retrieval augmentation, tool calling, self-reflection,
    self-consistency, reward shaping, imitation learning, inverse reinforcement learning, offline RL,
    active sampling, importance sampling, score distillation, classifier-free guidance, latent consistency,
    weight averaging, sharpness-aware minimization, gradient clipping, label smoothing, dropout, batch normalization,
    layer pruning, structured sparsity, hashing, sketching, random projections, optimal transport,
    energy-based training, masked modeling, next-token prediction, instruction tuning, direct alignment""")
VERBS = _listed("solve, learn, plan, generalize to, improve, explain, master, scale, reason about, understand, handle")
QUALIFIERS = _listed("""in {Domain}, with {Rare2} {Noun2}, for {Task2}, under {Rare2} Constraints, at Scale,
    without {Noun2}, from {Rare2} Supervision, in {Domain}""")
ML_TEMPLATES = _listed(
    """{Name}: {Adj} {Noun} for {Task}|{Opener} {Adj} {Task} with {Rare} {Noun}|
    A Survey on {Rare} {Noun} for {Task}|{Adj} {Rare} {Noun} via {Method}|{Name}: A Benchmark for {Task} in {Domain}|
    On the {Rare} of {Noun}|{Opener} {Rare} {Noun} for {Task} in {Domain}|{Task} with {Adj} {Noun}|
    {Name}: Scaling {Method} to {Noun}|{Rare} {Noun} Is All You Need for {Task}|{Adj} {Rare} {Noun}|
    When {Noun} Meet {Method}: {Adj} {Task}|{Opener} {Rare} {Task} via {Method}|{Name}: {Adj} {Rare} {Task}|
    {Adj} and {Adj2} {Noun} for {Rare} {Task}|Can {Noun} {Verb} {Task}? {Adj} {Rare} Evaluation|
    {Task} in {Domain} with {Rare} {Noun}|{Opener} {Method} for {Adj} {Noun} in {Rare} {Domain}|
    {Name}: Towards {Adj} {Task} with {Noun}|{Rare}-{Rare2} {Noun} for {Task}|
    {Name} and {Name2}: {Method} for {Task}|Learning to {Verb} {Task} with {Rare} {Method}|
    {Adj} {Noun} Are {Rare} {Noun2}|{Rare}: {Opener} {Method} in {Noun}""".replace("|", ",")
)

# Physics and mathematics: arXiv's other two thirds, written in sentence case.
PHYS_ADJ = _listed("""quantum, topological, nonlinear, relativistic, thermal, magnetic, anomalous, chiral,
    superconducting, ultracold, strongly correlated, non-equilibrium, nonlocal, dissipative, holographic,
    gravitational, cosmological, primordial, stellar, galactic, extragalactic, high-energy, dark, massive,
    spin-orbit, frustrated, disordered, periodically driven, non-Hermitian, many-body, two-dimensional,
    one-dimensional, inhomogeneous, turbulent, viscous, compressible, anisotropic, electroweak, supersymmetric,
    axion-like, tidal, coherent, open, critical, fractional""")
PHYS_OBJ = _listed("""black holes, neutron stars, white dwarfs, dark matter, dark energy, gravitational waves,
    the cosmic microwave background, galaxy clusters, exoplanets, accretion disks, quasars, active galactic nuclei,
    supernovae, gamma-ray bursts, fast radio bursts, magnetars, pulsars, cosmic rays, neutrinos, the Higgs boson,
    top quarks, heavy quarks, hadrons, mesons, topological insulators, Weyl semimetals, graphene,
    twisted bilayer graphene, superconductors, cuprates, spin liquids, Bose-Einstein condensates, optical lattices,
    quantum dots, qubits, trapped ions, Rydberg atoms, photonic crystals, metamaterials, plasmas, tokamaks,
    polymers, colloids, active matter, liquid crystals, skyrmions, magnons, phonons, excitons, polaritons,
    domain walls, vortices, solitons, Majorana modes, anyons, conformal field theories, gauge theories, lattice QCD,
    inflation, the early universe, spin chains, Hubbard models, Ising models, random circuits, tensor networks""")
PHYS_PHEN = _listed("""phase transitions, entanglement, decoherence, thermalization, localization,
    superconductivity, magnetism, turbulence, transport, scattering, pair production, symmetry breaking,
    quantum chaos, criticality, hysteresis, relaxation, diffusion, instabilities, oscillations, tunneling,
    interference, lensing, reionization, star formation, accretion, mergers, outflows, feedback, nucleosynthesis,
    baryogenesis, confinement, hadronization, spin dynamics, charge density waves, the quantum Hall effect,
    the Kondo effect, many-body localization, Floquet dynamics, squeezing, particle production, heat transport,
    anomalous diffusion, jamming, wetting, pattern formation, synchronization""")
PHYS_QUANT = _listed("""cross section, lifetime, mass, spin, polarization, luminosity function, equation of state,
    power spectrum, correlation function, entropy, specific heat, conductivity, band structure, density of states,
    spectral function, susceptibility, decay rate, branching ratio, coupling constant, Hubble constant,
    metallicity, rotation curve, mass function, radius, tidal deformability, viscosity, growth rate""")
PHYS_SETTING = _listed("""pp collisions at 13 TeV, heavy-ion collisions, the Milky Way, dwarf galaxies,
    the local universe, high redshift, the lattice, the continuum limit, thin films, heterostructures, nanowires,
    cavities, waveguides, the strong coupling regime, the thermodynamic limit, de Sitter space,
    anti-de Sitter space, curved spacetime, the Sun, the solar wind, the interstellar medium, molecular clouds,
    protoplanetary disks, the Galactic centre, binary systems, globular clusters, laboratory plasmas""")
PHYS_TEMPLATES = _listed(
    """{PAdj} {PPhen} in {PObj}|{Rare} {PPhen} in {PObj}|Observation of {rare} {PPhen} in {PSet}|
    Measurement of the {PQuant} of {PObj} in {PSet}|Constraints on {rare} {PObj} from {Source}|
    The {PQuant} of {PObj} in {rare} {PSet}|{PAdj} {PPhen} and {rare} {PPhen2} in {PSet}|
    Evidence for {rare} {PPhen} in {Source}|A {rare} model for {PPhen} of {PObj}|
    {Name}: a {rare} survey of {PObj} in {PSet}|Probing {PObj} with {rare} {PPhen}|
    {PAdj} {PObj} as a probe of {rare} {PPhen}|On the {PQuant} of {PAdj} {PObj} with {rare} {PPhen}|
    {Rare} {PObj} and the {PQuant} of {Source}|{Surname}-{Surname2} {PPhen} in {PAdj} {PObj}|
    Discovery of {rare} {PPhen} from {Source} with {Name}""".replace("|", ",")
)
SCIENCE_QUALIFIERS = _listed("""beyond the {rare} approximation, at finite temperature,
    in the presence of {rare} disorder, with {Name}, and applications,
    in higher dimensions, revisited, from {rare} simulations""")
MATH_ADJ = _listed("""elliptic, hyperbolic, parabolic, compact, noncompact, smooth, singular, algebraic, arithmetic,
    analytic, holomorphic, harmonic, random, stochastic, ergodic, integrable, nilpotent, solvable, simple,
    semisimple, reductive, abelian, nonabelian, finite, infinite, discrete, continuous, convex, nonconvex,
    symplectic, Kähler, Riemannian, Lorentzian, hyperkähler, p-adic, tropical, modular, combinatorial,
    generalized, weighted, fractional, quasilinear, nonlocal""")
MATH_OBJ = _listed("""curves, surfaces, varieties, manifolds, groups, Lie algebras, representations, modules, rings,
    ideals, graphs, hypergraphs, matroids, polytopes, lattices, operators, semigroups, Banach spaces,
    Hilbert spaces, Sobolev spaces, measures, random walks, Markov chains, martingales,
    partial differential equations, Schrödinger equations, wave equations, Navier-Stokes equations,
    moduli spaces, sheaves, stacks, categories, knots, braids, quivers, permutations, partitions, tableaux,
    polynomials, zeta functions, L-functions, modular forms, automorphic forms, Galois representations,
    number fields, dynamical systems, foliations, billiards, codes, designs, tilings""")
MATH_PROP = _listed("""stability, rigidity, regularity, uniqueness, existence, classification, cohomology,
    homotopy type, geometry, spectrum, asymptotics, growth, dimension, irreducibility, rationality, positivity,
    ergodicity, mixing, concentration, large deviations, blow-up, well-posedness, Hodge theory, structure,
    distribution, boundary behaviour, local-global principle, counting, invariants, automorphisms""")
MATH_FIELD = _listed("""finite fields, number fields, the complex numbers, the p-adic numbers, function fields,
    local fields, arbitrary characteristic, positive characteristic, the reals, global fields""")
MATH_TEMPLATES = _listed(
    """On the {MProp} of {rare} {MObj}|{MAdj} {MObj} and {rare} {MObj2}|
    A note on {rare} {MObj} over {MField}|{MProp} of {MAdj} {MObj} via {rare} {MObj2}|
    The {rare} conjecture for {MAdj} {MObj}|{Rare} {MObj} of {MAdj} {MObj2}|
    {Surname}-{Surname2} {MObj} and the {MProp} of {MAdj} {MObj2}|Counting {MAdj} {MObj} with {rare} {MObj2}|
    {MAdj} {rare} {MObj} in {MField}|{Rare} {MProp} for {MAdj} {MObj}|A {rare} approach to {MProp} of {MObj}|
    {Surname}'s {rare} inequality for {MAdj} {MObj}""".replace("|", ",")
)
FIELDS = (("ml", 0.5), ("physics", 0.3), ("math", 0.2))  # arXiv's recent mix, roughly; CS-heavy like paperbot's
SOURCES = ("NGC {}", "GRB {}A", "HD {}", "Kepler-{}b", "WASP-{}b", "PSR J{}+{}", "SN {}", "GW{}", "Abell {}")
SYLLABLES = _listed("""ka, lo, mi, ra, ven, tor, zen, qu, el, sa, vi, nex, mo, ba, dri, ax, lu, fi, gen, pho, ri, ta,
    mer, on, cy, dex, ul, ix, pa, yo, ko, ne, su, ha, ze, ti, ro, gal, mon, tri, sil, vor, den, kel, ar, is, om, und,
    bel, cor, fen, lin, mar, nor, pel, sar, tan, val, wen""")
HEADS = _listed("""hyper, neuro, meta, multi, poly, geo, bio, quasi, auto, co, cross, micro, nano, photo, thermo,
    electro, chrono, topo, iso, para, pseudo, semi, ultra, anti, inter, intra, sub, super, trans, proto, holo""")
ENDINGS = _listed("""-based, -aware, -free, -guided, -driven, -conditioned, -invariant, -preserving, -consistent,
    -adaptive, -augmented, -regularized, -weighted, -constrained, ic, ive, ous, al, ized, ing, ity, ness""")
FIRST_NAMES = _listed("""Ada, Alan, Grace, Wei, Li, Yuki, Hiroshi, Priya, Arjun, Fatima, Omar, Sofia, Mateo, Lucas,
    Emma, Olga, Ivan, Chen, Xin, Jie, Min-jun, Seo-yeon, Amara, Kwame, Noah, Liam, Zoe, Ines, Joao, Ana, Marta,
    Pierre, Chloe, Hans, Greta, Lars, Ingrid, Raj, Ananya, Mehmet, Elif, Dmitri, Katya, Tomas, Eva, Jakub, Zsofia,
    Yara, Diego, Lucia, Sipho, Thandi, Nguyen, Minh, Hoang, Siddharth, Aisha, Ibrahim, Leila, Reza, Sara, Maya,
    Ethan, Ava""")
SURNAMES = _listed("""Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Zhu, Hu, Guo, He, Lin,
    Luo, Kim, Lee, Park, Choi, Tanaka, Suzuki, Sato, Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis,
    Rodriguez, Martinez, Muller, Schmidt, Schneider, Fischer, Weber, Rossi, Russo, Bianchi, Dubois, Martin,
    Bernard, Silva, Santos, Oliveira, Kumar, Singh, Sharma, Patel, Gupta, Ivanov, Smirnov, Kowalski, Nowak, Novak,
    Horvath, Nagy, Yilmaz, Kaya, Nguyen, Tran, Pham, Okafor, Mensah, Haddad, Hosseini, Cohen, Levi, Andersson,
    Johansson, Nielsen, Hansen, Schölkopf, Müller, Núñez, Bengio, Hinton, LeCun, Vaswani, Shazeer, Sutskever""")
VAGUE = ["paper", "the one about", "new", "method", "approach", "study", "2023", "arxiv"]
SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "for", "from", "in", "of", "on", "or", "the", "to", "via", "with"]
)


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


class Growing:
    """Words drawn the way a real vocabulary grows (a Pitman-Yor process with discount `d`, strength `theta`):
    a new word, made by `mint`, with probability (theta + d*V) / (theta + n) after n draws of V distinct words,
    else an earlier word with weight (its uses - d). Word frequencies come out Zipf-like and the vocabulary grows
    like n^d (Heaps' law): popular names recur in thousands of titles while most appear in a handful."""

    def __init__(self, rng: random.Random, mint: Callable[[], str], d: float, theta: float) -> None:
        self.rng, self.mint, self.d, self.theta = rng, mint, d, theta
        self.uses: list[str] = []
        self.counts: dict[str, int] = {}

    def __call__(self) -> str:
        rng, n = self.rng, len(self.uses)
        if not n or rng.random() * (self.theta + n) < self.theta + self.d * len(self.counts):
            word = self.mint()
            while word in self.counts:
                word = self.mint()
        else:
            while True:  # an earlier use at random is a word with weight = its uses; keep it with (uses - d)/uses
                word = self.uses[rng.randrange(n)]
                if rng.random() * self.counts[word] < self.counts[word] - self.d:
                    break
        self.counts[word] = self.counts.get(word, 0) + 1
        self.uses.append(word)
        return word


def _stem(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(low, high)))


def _mint_name(rng: random.Random) -> str:
    """A coined model or system name: 'Voxtral', 'LLaMA-Adapter'-like compounds, 'Mamba2'-like versions."""
    stem = _stem(rng, 2, 3)
    stem = stem.upper() if rng.random() < 0.15 else stem.capitalize()
    roll = rng.random()
    if roll < 0.25:
        return f"{stem}{rng.randint(2, 4)}"
    if roll < 0.45:
        return f"{stem}-{rng.choice(['Adapter', 'VL', 'R1', 'Coder', 'Bench', 'Agent', 'Zero', 'X'])}"
    if roll < 0.55:
        return f"{stem}{rng.choice(['GPT', 'Net', 'Former', 'Diff', 'LM'])}"
    return stem


def _mint_term(rng: random.Random, roots: list[str]) -> str:
    """A coined technical word: 'neurosymbolic'-like compounds, 'permutation-based', 'Kalomirian' operators."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(HEADS) + rng.choice(roots)
    if roll < 0.6:
        return rng.choice(roots) + rng.choice(ENDINGS)
    if roll < 0.8:
        return _stem(rng, 3, 4)
    return _stem(rng, 2, 3).capitalize() + rng.choice(["ian", "ean", "ov", "ski", "er", "ini", "ez"])


def _mint_source(rng: random.Random) -> str:
    """An astronomical source as catalogues name them: 'NGC 1068', 'GRB 221009A', 'Kepler-452b'."""
    pattern = rng.choice(SOURCES)
    if pattern.startswith(("GRB", "GW")):
        value = f"{rng.randint(15, 25)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    elif pattern.startswith("SN"):
        value = f"{rng.randint(1987, 2025)}{rng.choice(string.ascii_lowercase)}{rng.choice(string.ascii_lowercase)}"
    else:
        value = str(rng.randint(1, 8000))
    return pattern.format(value, rng.randint(1000, 9999))


def _title_case(phrase: str) -> str:
    """'mixture of experts' -> 'Mixture of Experts'; words with capitals already ('LLMs', '3D') kept."""
    out = []
    for n, word in enumerate(phrase.split(" ")):
        if (n and word in SMALL_WORDS) or word != word.lower():
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


@cache
def _slots(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


class Filler:
    """Fills templates' slots: shared phrases Zipf-weighted from the lists, specific words from growing sources."""

    def __init__(self, rng: random.Random, roots: list[str]) -> None:
        self.rng = rng
        self.term = Growing(rng, lambda: _mint_term(rng, roots), d=0.75, theta=300.0)
        self.name = Growing(rng, lambda: _mint_name(rng), d=0.7, theta=200.0)
        self.source = Growing(rng, lambda: _mint_source(rng), d=0.6, theta=200.0)
        self.lists = {
            "Opener": OPENERS,
            "Adj": ADJECTIVES,
            "Noun": NOUNS,
            "Task": TASKS,
            "Domain": DOMAINS,
            "Method": METHODS,
            "PAdj": PHYS_ADJ,
            "PObj": PHYS_OBJ,
            "PPhen": PHYS_PHEN,
            "PQuant": PHYS_QUANT,
            "PSet": PHYS_SETTING,
            "MAdj": MATH_ADJ,
            "MObj": MATH_OBJ,
            "MProp": MATH_PROP,
            "MField": MATH_FIELD,
        }

    def slot(self, name: str, title_case: bool) -> str:
        """One slot's text ('Rare' is a specific word capitalised, 'rare' as is; a trailing 2 is a second one)."""
        base = name.rstrip("2")
        if base in ("Rare", "rare"):
            word = self.term()
            return word[:1].upper() + word[1:] if base == "Rare" else word
        if base == "Name":
            return self.name()
        if base == "Source":
            return self.source()
        if base == "Surname":
            return _surname(self.rng)
        if base == "Verb":
            return self.rng.choice(VERBS)
        phrase = _zipf(self.rng, self.lists[base])
        return _title_case(phrase) if title_case and base != "Domain" else phrase

    def fill(self, template: str, title_case: bool) -> str:
        """The template with every slot filled."""
        return template.format_map({name: self.slot(name, title_case) for name in _slots(template)})


def _title(rng: random.Random, real: list[str], filler: Filler) -> str:
    """A title of one field, or (1%) a real title with one of its words swapped for a specific word."""
    roll = rng.random()
    if roll < 0.01:
        words = rng.choice(real).split()
        words[rng.randrange(len(words))] = filler.term()
        return " ".join(words)
    if roll < 0.5:
        title = filler.fill(rng.choice(ML_TEMPLATES), title_case=True)
        if "?" not in title and rng.random() < 0.45:
            title += " " + filler.fill(rng.choice(QUALIFIERS), title_case=True)
        return title
    templates = PHYS_TEMPLATES if roll < 0.8 else MATH_TEMPLATES
    title = filler.fill(rng.choice(templates), title_case=False)
    if rng.random() < 0.3:
        title += " " + filler.fill(rng.choice(SCIENCE_QUALIFIERS), title_case=False)
    return title[:1].upper() + title[1:]


NOT_ROOTS = frozenset(
    _listed("""about, after, again, against, already, always, another, because, being, cannot, comes, could, every,
    having, means, other, regarding, should, their, there, these, those, times, toward, under, where, which, while,
    would""")
)


def _roots(sample_words: list[str]) -> list[str]:
    """Roots for coined terms: the sample's abstract words, less adverbs, past tenses and function words."""
    return [w for w in sample_words if len(w) <= 9 and w not in NOT_ROOTS and not w.endswith(("ly", "ed"))]


def _abstract_words(rng: random.Random, sample_words: list[str]) -> list[str]:
    """Words for the few abstracts: the sample's abstract words plus coined compounds ('neurosymbolic')."""
    roots = [w for w in sample_words if len(w) <= 9]
    coined = {rng.choice(HEADS) + rng.choice(roots) for _ in range(60_000)}
    return sample_words + sorted(coined)


def _surname(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return _zipf(rng, SURNAMES, 0.8)
    return _stem(rng, 2, 4).capitalize()


def papers(count: int, seed: int = 7) -> Iterator[Paper]:
    """`count` papers with distinct new-style arXiv ids; about 3% carry HF keywords and an abstract."""
    rng = random.Random(seed)
    real, sample_words = _sample_text()
    filler = Filler(rng, _roots(sample_words))
    tail = _abstract_words(rng, sample_words)
    real += REAL_TITLES
    for n in range(count):
        month, number = divmod(n, 99_999)
        arxiv_id = f"{15 + month // 12:02d}{month % 12 + 1:02d}.{number + 1:05d}"
        title = real[n] if n < len(real) else _title(rng, real, filler)
        authors = tuple(f"{rng.choice(FIRST_NAMES)} {_surname(rng)}" for _ in range(rng.randint(1, 7)))
        if rng.random() < 0.03:
            keywords = tuple(_zipf(rng, TASKS + NOUNS + METHODS) for _ in range(rng.randint(2, 5)))
            abstract = " ".join([title, *(_zipf(rng, tail, 0.6) for _ in range(rng.randint(60, 120)))])
            yield Paper(arxiv_id, title, authors, keywords, abstract)
        else:
            yield Paper(arxiv_id, title, authors)


@dataclass(frozen=True)
class Query:
    """A query someone would type looking for `target`, and how it was made: `added` words more than first
    drawn, because the drawn words fitted 5 or more other titles as well; `rivals`, the other distinct titles
    that still fit it as well (bench/search_misses.py's oracle; 5 or more only when the whole title was used)."""

    text: str
    target: str
    kind: str
    added: int = 0
    rivals: int = 0


KINDS = ("prefix", "dropped", "typo", "order", "half", "author")
ENOUGH = 5  # a query is told apart when fewer than this many other titles fit it as well as the wanted one


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


@dataclass(frozen=True)
class Draft:
    """A query as first drawn (`head`) and the words its writer would type next if it named too many titles
    (`more`, in order): the title's next words, or for bag-of-words kinds its next most telling ones. `tail`
    follows them (the vague word); `cut` is the letters typed of a first-words query's last word (0: all)."""

    head: tuple[str, ...]
    more: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()
    cut: int = 0
    lower: bool = False

    def text(self, extra: int = 0) -> str:
        """The query with `extra` of the `more` words typed."""
        said = [*self.head, *self.more[:extra]]
        if self.cut and len(said[-1]) > max(5, self.cut):  # still typing the last word, as when first drawn
            said[-1] = said[-1][: self.cut]
        text = " ".join([*said, *self.tail])
        return text.lower() if self.lower else text


def draft_query(paper: Paper, kind: str, rng: random.Random, rarity: Callable[[str], int] = len) -> Draft:
    """A query of `kind` (one of KINDS) for `paper` and how it would go on; `rarity` ranks words (higher: more
    telling)."""
    words = re.sub(r"[:?,]", "", paper.title).split()
    if kind == "prefix":
        head = words[: rng.randint(4, 7)]
        cut = 0
        if rng.random() < 0.3 and len(head[-1]) > 5:
            cut = rng.randint(3, len(head[-1]) - 1)  # still typing
        return Draft(tuple(head), tuple(words[len(head) :]), cut=cut)
    if kind == "dropped" and len(words) > 3:
        head = words[:8]
        del head[rng.randrange(1, len(head))]
        return Draft(tuple(head), tuple(words[8:]))
    if kind == "typo":
        head = words[: rng.randint(4, 7)]
        spots = [i for i, w in enumerate(head) if len(w) >= 5] or [0]
        for i in rng.sample(spots, min(len(spots), rng.randint(1, 2))):
            head[i] = _typo(rng, head[i])
        return Draft(tuple(head), tuple(words[len(head) :]))
    if kind == "order":
        head = words[:6]
        rng.shuffle(head)
        return Draft(tuple(head), tuple(words[6:]))
    telling = sorted(_content(words) or words, key=rarity, reverse=True)  # people remember the telling words
    others = dict.fromkeys(w for w in words if w not in telling and w.lower() not in STOPWORDS)
    rest = sorted(others, key=rarity, reverse=True)  # then the title's other words, if need be
    if kind == "half":
        chosen = rng.sample(telling[:3], min(len(telling), rng.randint(2, 3)))
        more = [w for w in telling if w not in chosen] + rest
        chosen[0] = _typo(rng, chosen[0])
        return Draft(tuple(chosen), tuple(more), (rng.choice(VAGUE),), lower=True)
    if kind == "author":
        surname = rng.choice(paper.authors).split()[-1]
        return Draft((surname.lower(), *telling[:2]), tuple(telling[2:] + rest))
    return Draft(tuple(words[:5]), tuple(words[5:]))


def make_query(paper: Paper, kind: str, rng: random.Random, rarity: Callable[[str], int] = len) -> str:
    """A query of `kind` (one of KINDS) for `paper` as first drawn; `rarity` ranks words (higher: more telling)."""
    return draft_query(paper, kind, rng, rarity).text()


def intended_words(text: str, kind: str, title: Sequence[str]) -> list[str]:
    """The query's words mapped to the wanted title's words (`title`, the engine's tokens) they stand for: each
    word not in the title stands for the title word within two edits of it, a first-words query's last word
    for the title word it begins; words with none (and an author query's surname) are dropped."""
    said = engine_text.words(text)
    if kind == "author":
        said = said[1:]
    cut = kind == "prefix" and not text.endswith(" ")
    out = []
    for n, word in enumerate(said):
        if word in title:
            out.append(word)
            continue
        if cut and n == len(said) - 1:
            begun = [w for w in title if w.startswith(word)]
            if begun:
                out.append(begun[0])
                continue
        close = sorted((OSA.distance(word, w), w) for w in title)
        if close and close[0][0] <= 2 and len(word) > 3:
            out.append(close[0][1])
    return out


def satisfies(kind: str, intended: Sequence[str], title: Sequence[str]) -> bool:
    """Whether a title's words meet the query's intended words as strictly as the kind allows: the first words
    for first-words and typo queries, the opening's words in order with one left out for a dropped word, the
    opening's words in any order for a shuffle, all the words anywhere otherwise."""
    if kind in ("prefix", "typo"):
        return list(title[: len(intended)]) == list(intended)
    if kind == "dropped":
        rest = iter(title[: len(intended) + 1])
        return all(any(w == t for t in rest) for w in intended)
    if kind == "order":
        return sorted(title[: len(intended)]) == sorted(intended)
    return set(intended) <= set(title)


class Rivals:
    """The oracle of bench/search_misses.py: how many other distinct titles of `corpus` satisfy a query as well
    as the title it was made from. The titles holding a query's words come from an inverted index of the
    engine's title words; this one holds only the words of the titles at `targets` (the titles asked about),
    built in one pass over the corpus. Subclasses may take the postings from elsewhere (`holding`; `unique`: each
    paper at most once in a word's postings)."""

    unique = True

    def __init__(self, corpus: Sequence[Paper], targets: Iterable[int] = ()) -> None:
        self.corpus = corpus
        self._tokens: dict[int, tuple[str, ...]] = {}
        self._distinct = 0
        wanted = {w for t in targets for w in self.title_words(t) if w not in STOPWORDS}
        postings = {w: array("i") for w in wanted}
        tokens = engine_text.words
        for n, paper in enumerate(corpus if wanted else ()):
            for word in wanted.intersection(tokens(paper.title)):
                postings[word].append(n)
        self._postings = {w: np.frombuffer(p, np.int32) if p else np.zeros(0, np.int32) for w, p in postings.items()}

    def title_words(self, doc: int) -> tuple[str, ...]:
        """The engine's tokens of a paper's title."""
        tokens = self._tokens.get(doc)
        if tokens is None:
            tokens = self._tokens[doc] = tuple(engine_text.words(self.corpus[doc].title))
        return tokens

    def holding(self, word: str) -> np.ndarray | None:
        """The papers whose title has `word` (None: none, or not indexed)."""
        return self._postings.get(word)

    def count(self, text: str, kind: str, target: int) -> tuple[list[str], int]:
        """The query's intended words and how many other distinct titles satisfy them as well as the target's."""
        mine = self.title_words(target)
        intended = intended_words(text, kind, mine)
        content = [w for w in dict.fromkeys(intended) if w not in STOPWORDS]
        if not content:
            return intended, self._distinct_titles() - 1
        held = []
        for word in content:
            holders = self.holding(word)
            if holders is None:
                return intended, 0
            held.append(holders)
        held.sort(key=len)
        pool = held[0]
        for other in held[1:]:
            pool = np.intersect1d(pool, other, assume_unique=self.unique)
        surname = engine_text.words(text)[0] if kind == "author" else None
        titles = set()
        for doc in pool.tolist():
            if surname is not None and surname not in self._surnames(doc):
                continue
            tokens = self.title_words(doc)
            if satisfies(kind, intended, tokens):
                titles.add(tokens)
        titles.discard(mine)
        return intended, len(titles)

    def _surnames(self, doc: int) -> set[str]:
        return {engine_text.normalize(a.split()[-1]) for a in self.corpus[doc].authors}

    def _distinct_titles(self) -> int:
        if not self._distinct:
            self._distinct = len({tuple(engine_text.words(p.title)) for p in self.corpus})
        return self._distinct


def drafts(corpus: list[Paper], count: int, seed: int = 11) -> list[tuple[int, str, Draft]]:
    """`count` queries as first drawn, for papers drawn at random from `corpus` (their positions), the kinds in
    turn. Half-remembered and author queries use the title's most telling words: those fewest titles have."""
    rng = random.Random(seed)
    targets = [rng.randrange(len(corpus)) for _ in range(count)]
    wanted = {w.lower() for t in targets for w in re.sub(r"[:?,]", "", corpus[t].title).split()}
    held = Counter(w for p in corpus for w in set(p.title.lower().split()) if w in wanted)
    out = []
    for n, target in enumerate(targets):
        kind = KINDS[n % len(KINDS)]
        out.append((target, kind, draft_query(corpus[target], kind, rng, lambda w: -held.get(w.lower(), 0))))
    return out


def queries(corpus: list[Paper], count: int, seed: int = 11, lengthen: bool = True) -> list[Query]:
    """`count` queries for papers drawn at random from `corpus` (`drafts`), typed the way people type them.

    A person whose first words are shared by many titles types more of the title: each query as drawn is
    lengthened by the words its writer would type next (`Draft.more`) while 5 or more other distinct titles fit
    it as well as the wanted one (`Rivals`), until fewer do or the title is used up (`lengthen=False`: as
    drawn). The typos and the draw stay; the lengthening draws nothing, so the set is the same per seed."""
    drawn = drafts(corpus, count, seed)
    rivals = Rivals(corpus, [target for target, _, _ in drawn]) if lengthen else None
    out = []
    for target, kind, draft in drawn:
        extra, left = 0, 0
        if rivals is not None:
            left = rivals.count(draft.text(), kind, target)[1]
            while left >= ENOUGH and extra < len(draft.more):
                extra += 1
                left = rivals.count(draft.text(extra), kind, target)[1]
        out.append(Query(draft.text(extra), corpus[target].arxiv_id, kind, extra, left))
    return out


def lengthening(asked: Sequence[Query]) -> str:
    """One line on how many queries had to be lengthened to tell their title apart, and by how much."""
    longer = [q.added for q in asked if q.added]
    still = sum(q.rivals >= ENOUGH for q in asked)
    mean = sum(longer) / len(longer) if longer else 0.0
    return (
        f"queries lengthened until fewer than {ENOUGH} other titles fit them as well (a person types more when the"
        f" first words are shared): {len(longer)} of {len(asked)}, by {mean:.1f} words on average"
        f" (at most {max(longer, default=0)}); still fitting {ENOUGH}+ other titles with the whole title: {still}"
    )
