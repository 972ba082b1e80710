"""word2vec: ember against gensim on the King James Bible, speed and analogy accuracy.

Corpus: Debian's bible-kjv-text (``apt install bible-kjv-text bible-kjv``; the script finds
it through ember.data.datasets.bible_kjv), one verse per sentence, lower-cased and split on
non-letters. Both libraries train skip-gram with the same hyper-parameters (100 dims,
window 5, negative 5, min_count 5, 5 epochs); gensim with workers=1 and workers=2. The
analogy questions (questions-words format) are built from word pairs that occur in the
corpus's vocabulary: gender, family, plural/singular and verb tense.

    python benchmarks/word2vec.py [--epochs 5] [--questions runs/kjv-analogies.txt]
"""
from __future__ import annotations

import argparse
import itertools
import re
import time
from pathlib import Path

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
    """Train skip-gram in ``library``; returns (keyed vectors, seconds)."""
    options = dict(vector_size=100, window=5, negative=5, min_count=5, sg=1, epochs=epochs, seed=seed,
                   workers=workers)
    if library == "gensim":
        from gensim.models import Word2Vec
    else:
        from ember.text import Word2Vec
    started = time.perf_counter()
    model = Word2Vec(sentences, **options)
    return model.wv, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--questions", default="runs/kjv-analogies.txt", help="where to write the analogy file")
    args = parser.parse_args()
    sentences = kjv_sentences()
    words = sum(map(len, sentences)) * args.epochs
    runs = [("ember", 1), ("gensim", 1), ("gensim", 2), ("ember", 2)]
    results = {}
    for library, workers in runs:
        wv, seconds = train(library, sentences, args.epochs, workers)
        results[(library, workers)] = (wv, seconds)
    vocabulary = set(results[("gensim", 1)][0].key_to_index) & set(results[("ember", 1)][0].key_to_index)
    n_questions = write_questions(Path(args.questions), vocabulary)
    print(f"KJV: {len(sentences):,} verses, {words // args.epochs:,} words, {len(vocabulary):,} shared vocabulary "
          f"words; {n_questions} analogy questions ({args.questions})")
    print(f"{'library':<8}{'workers':>8}{'seconds':>9}{'words/s':>11}{'analogy acc':>13}")
    for (library, workers), (wv, seconds) in results.items():
        accuracy = wv.evaluate_word_analogies(args.questions)[0]
        print(f"{library:<8}{workers:>8}{seconds:>9.1f}{words / seconds:>11,.0f}{accuracy:>13.3f}")
    for workers in (1, 2):
        ratio = results[("gensim", workers)][1] / results[("ember", workers)][1]
        print(f"ember / gensim throughput at {workers} worker{'s' * (workers > 1)}: {ratio:.2f}x "
              "(raw corpus words per second, before subsampling)")


if __name__ == "__main__":
    main()
