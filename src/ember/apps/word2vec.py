"""``ember word2vec``: train word vectors on a text corpus and look at them.

The corpus is a plain-text file (default: the King James Bible when Debian's ``bible-kjv``
is installed), one sentence per line, lower-cased and split on non-letters. Training is
``ember.text.Word2Vec`` (skip-gram by default, gensim's hyper-parameters); the run writes the
vectors in the word2vec text or binary format (readable by gensim and the C tool), prints the
nearest neighbours of a few words, the analogy accuracy when a questions-words file is given,
and saves a 2-D PCA plot of the chosen words.

    ember word2vec corpus.txt --epochs 5 --query king water --plot king queen man woman
"""
from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

from ember.apps.arguments import existing_file, non_negative_float, non_negative_int, positive_float, positive_int

DEFAULT_QUERIES = ("king", "water", "good")


def sentences_of(text: str) -> list[list[str]]:
    """One sentence per non-empty line: the lower-cased runs of letters."""
    return [words for line in text.lower().splitlines() if (words := re.findall(r"[^\W\d_]+", line))]


def add_arguments(parser) -> None:
    """The options of ``ember word2vec`` on an argparse parser."""
    parser.add_argument("corpus", nargs="?", default=None, type=existing_file,
                        help="a text file, one sentence per line (default: the KJV Bible when installed)")
    parser.add_argument("--out", default="runs/word2vec", help="output directory (default runs/word2vec)")
    parser.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram")
    parser.add_argument("--vector-size", type=positive_int, default=100, help="dimensions (default 100)")
    parser.add_argument("--window", type=positive_int, default=5, help="largest context window (default 5)")
    parser.add_argument("--negative", type=non_negative_int, default=5,
                        help="negatives per pair; 0 = full softmax (default 5)")
    parser.add_argument("--min-count", type=non_negative_int, default=5, help="drop rarer words (default 5)")
    parser.add_argument("--sample", type=non_negative_float, default=1e-3,
                        help="subsampling threshold; 0 = no subsampling (default 1e-3)")
    parser.add_argument("--epochs", type=positive_int, default=5, help="passes over the corpus (default 5)")
    parser.add_argument("--alpha", type=positive_float, default=0.025, help="initial learning rate (default 0.025)")
    parser.add_argument("--workers", type=positive_int, default=min(os.cpu_count() or 1, 4),
                        help="training processes (default: the cores, at most 4; 1 is reproducible)")
    parser.add_argument("--seed", type=non_negative_int, default=1,
                        help="seed of initialisation and sampling (default 1)")
    parser.add_argument("--binary", action="store_true", help="write the vectors in the binary word2vec format")
    parser.add_argument("--query", nargs="*", default=None, metavar="WORD",
                        help="print the nearest neighbours of these words (default: a few in the vocabulary)")
    parser.add_argument("--analogies", type=existing_file, default=None,
                        help="a questions-words file to report analogy accuracy")
    parser.add_argument("--plot", nargs="*", default=None, metavar="WORD",
                        help="words for the PCA plot (default: the 40 most frequent words of 3+ letters)")


def run(args) -> int:
    from ember.data.datasets import text_corpus
    from ember.text import Word2Vec
    from ember.viz import plot_embeddings

    sentences = sentences_of(text_corpus(args.corpus))
    words = sum(map(len, sentences))
    print(f"corpus: {len(sentences):,} sentences, {words:,} words")
    started = time.perf_counter()
    model = Word2Vec(sentences, vector_size=args.vector_size, window=args.window, min_count=args.min_count,
                     sg=0 if args.cbow else 1, negative=args.negative, sample=args.sample, epochs=args.epochs,
                     alpha=args.alpha, workers=args.workers, seed=args.seed)
    seconds = time.perf_counter() - started
    print(f"trained {'CBOW' if args.cbow else 'skip-gram'} on {len(model.wv):,} words in {seconds:.1f} s "
          f"({words * args.epochs / seconds:,.0f} words/s, {args.workers} worker(s))")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vectors = out / ("vectors.bin" if args.binary else "vectors.txt")
    model.wv.save_word2vec_format(vectors, binary=args.binary)
    print(f"vectors: {vectors}")
    queries = args.query if args.query is not None else [w for w in DEFAULT_QUERIES if w in model.wv]
    for word in queries:
        if word not in model.wv:
            print(f"  {word}: not in the vocabulary")
            continue
        neighbours = ", ".join(f"{w} {s:.2f}" for w, s in model.wv.most_similar(word, topn=8))
        print(f"  {word}: {neighbours}")
    if args.analogies:
        accuracy, sections = model.wv.evaluate_word_analogies(args.analogies)
        answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
        print(f"analogy accuracy: {accuracy:.3f} on the {answered} questions within the vocabulary")
    plotted = args.plot if args.plot else _frequent_words(sentences, model.wv, 40)
    plot_embeddings(model.wv, [w for w in plotted if w in model.wv], out / "embeddings.png",
                    title="word2vec: PCA of the word vectors")
    print(f"plot: {out / 'embeddings.png'}")
    return 0


def _frequent_words(sentences, wv, n: int) -> list[str]:
    counts = Counter(w for s in sentences for w in s if len(w) >= 3)
    return [w for w, _ in counts.most_common() if w in wv][:n]
