"""word2vec: ember against gensim on the King James Bible, speed and analogy accuracy.

Corpus: Debian's bible-kjv-text (``apt install bible-kjv-text bible-kjv``; the script finds
it through ember.data.datasets.bible_kjv), one verse per sentence, lower-cased and split on
non-letters. Both libraries train skip-gram with the same hyper-parameters (100 dims,
window 5, negative 5, min_count 5, 5 epochs); gensim with workers=1 and workers=2. The
analogy questions (questions-words format) are built from word pairs that occur in the
corpus's vocabulary: gender, family, plural/singular and verb tense.

    python benchmarks/word2vec.py [--epochs 5] [--rounds 1] [--questions runs/kjv-analogies.txt] [--reference] [--json]

ember trains with its compiled kernel when numba is installed (``pip install 'ember[fast]'``);
``--reference`` also times the NumPy path that the kernel is tested equal to.
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import time
from pathlib import Path

from harness import SETTLE_SECONDS, print_machine, print_table

PAIRS = {  # section → (a, b) pairs; questions are a:b :: c:d over every two pairs of a section
    "gender": [("man", "woman"), ("king", "queen"), ("he", "she"), ("his", "her"), ("father", "mother"),
               ("son", "daughter"), ("brother", "sister"), ("husband", "wife"), ("lord", "lady"),
               ("sons", "daughters"), ("brethren", "sisters"), ("men", "women"), ("prince", "princess"),
               ("kings", "queens"), ("fathers", "mothers"), ("manservant", "maidservant"), ("him", "her")],
    "plural": [("son", "sons"), ("daughter", "daughters"), ("king", "kings"), ("city", "cities"),
               ("prophet", "prophets"), ("priest", "priests"), ("servant", "servants"), ("house", "houses"),
               ("hand", "hands"), ("eye", "eyes"), ("day", "days"), ("year", "years"), ("nation", "nations"),
               ("enemy", "enemies"), ("tree", "trees"), ("gate", "gates"), ("field", "fields"),
               ("mountain", "mountains"), ("river", "rivers"), ("word", "words"), ("angel", "angels")],
    "past-tense": [("go", "went"), ("come", "came"), ("say", "said"), ("see", "saw"), ("give", "gave"),
                   ("take", "took"), ("speak", "spake"), ("know", "knew"), ("eat", "ate"), ("rise", "rose"),
                   ("bring", "brought"), ("hear", "heard"), ("make", "made"), ("send", "sent"),
                   ("stand", "stood"), ("sit", "sat"), ("find", "found"), ("build", "built"), ("smite", "smote"),
                   ("begin", "began"), ("fall", "fell"), ("write", "wrote")],
}


def kjv_sentences() -> list[list[str]]:
    from ember.data.datasets import bible_kjv

    return [words for line in bible_kjv().lower().splitlines() if (words := re.findall(r"[a-z]+", line))]


def write_questions(path: Path, vocabulary: set) -> int:
    """Write the analogy file from the pairs fully in ``vocabulary``; returns the number of questions."""
    lines = []
    for section, pairs in PAIRS.items():
        kept = [p for p in pairs if p[0] in vocabulary and p[1] in vocabulary]
        lines.append(f": {section}")
        lines += [f"{a} {b} {c} {d}" for (a, b), (c, d) in itertools.permutations(kept, 2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return sum(not line.startswith(":") for line in lines)


def train(library: str, sentences, epochs: int, workers: int = 1, seed: int = 1):
    """Train skip-gram in ``library`` ("gensim", "ember", or "ember-numpy": ember without its
    compiled kernel); returns (keyed vectors, seconds)."""
    options = dict(vector_size=100, window=5, negative=5, min_count=5, sg=1, epochs=epochs, seed=seed,
                   workers=workers)
    if library == "gensim":
        from gensim.models import Word2Vec
    else:
        from ember.text import Word2Vec
        options["compiled"] = None if library == "ember" else False
    started = time.perf_counter()
    model = Word2Vec(sentences, **options)
    return model.wv, time.perf_counter() - started


def measure(sentences, epochs: int, rounds: int, questions: Path, reference: bool) -> dict:
    """Train each (library, workers) ``rounds`` times in A B B A order, round r with seed r + 1; per
    case the median seconds, throughput, ratio and the analogy accuracy averaged over the rounds (one
    seed's accuracy varies by ±0.015). ``reference`` adds ember's NumPy path."""
    order = [("ember", 1), ("gensim", 1), ("gensim", 2), ("ember", 2)]
    order += [("ember-numpy", 1), ("ember-numpy", 2)] if reference else []
    train("ember", sentences[:500], 1)  # compile (or load from numba's cache) the kernel before timing
    seconds, vectors = {run: [] for run in order}, {run: [] for run in order}
    for r in range(rounds):
        for library, workers in order if r % 2 == 0 else order[::-1]:
            time.sleep(SETTLE_SECONDS)  # the last run's idle threads stop spinning first (harness.py)
            trained, took = train(library, sentences, epochs, workers, seed=r + 1)
            seconds[(library, workers)].append(took)
            vectors[(library, workers)].append(trained)
    vocabulary = set(vectors[("gensim", 1)][0].key_to_index) & set(vectors[("ember", 1)][0].key_to_index)
    n_questions = write_questions(questions, vocabulary)

    def accuracy(run):
        return round(statistics.mean(v.evaluate_word_analogies(questions)[0] for v in vectors[run]), 3)

    words = sum(map(len, sentences)) * epochs
    cases = {}
    for ember in ("ember", "ember-numpy") if reference else ("ember",):
        for workers in (1, 2):
            median = {lib: statistics.median(seconds[(lib, workers)]) for lib in (ember, "gensim")}
            path = "compiled" if ember == "ember" and compiled_kernel() else "NumPy"
            cases[f"skip-gram on the KJV, {workers} worker{'s' * (workers > 1)}, ember {path}"] = {
                "unit": "words/s", "throughput": {lib: round(words / t) for lib, t in median.items()},
                "ratio": round(median["gensim"] / median[ember], 3),
                "analogy_accuracy": {lib: accuracy((lib, workers)) for lib in (ember, "gensim")}}
    return {"cases": cases, "verses": len(sentences), "words": words // epochs, "vocabulary": len(vocabulary),
            "questions": n_questions, "epochs": epochs, "rounds": rounds}


def compiled_kernel() -> bool:
    """Whether ember's default Word2Vec runs the compiled (numba) kernel."""
    from ember.text import Word2Vec

    return Word2Vec().compiled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="A B B A rounds; medians are reported")
    parser.add_argument("--questions", default="runs/kjv-analogies.txt", help="where to write the analogy file")
    parser.add_argument("--quick", action="store_true", help="accepted for ember bench (there is no memory pass)")
    parser.add_argument("--reference", action="store_true", help="also time ember's NumPy path (compiled=False)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    print_machine(args)
    result = measure(kjv_sentences(), args.epochs, args.rounds, Path(args.questions), args.reference)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"KJV: {result['verses']:,} verses, {result['words']:,} words, {result['vocabulary']:,} shared vocabulary "
          f"words; {result['questions']} analogy questions ({args.questions})")
    rows = [[case, *(f"{v:,}" for v in r["throughput"].values()), f"{r['ratio']:.2f}x",
             " / ".join(f"{v:.3f}" for v in r["analogy_accuracy"].values())] for case, r in result["cases"].items()]
    print_table(["case", "ember words/s", "gensim words/s", "ember/gensim", "analogy accuracy ember / gensim"], rows)
    print(f"\nraw corpus words per second (before subsampling), medians of {args.rounds} A B B A round(s); "
          f"analogy accuracy averaged over the rounds' seeds")


if __name__ == "__main__":
    main()
