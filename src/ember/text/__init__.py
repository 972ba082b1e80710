"""``ember.text``: vocabularies, tokenisers and the batching of token sequences.

>>> from ember.text import Vocab, word_tokenize, pad_sequence, BPTTBatcher
>>> lines = [word_tokenize(s) for s in ["The cat sat.", "The dog ran!"]]
>>> vocab = Vocab(lines, min_count=1)                    # <pad>=0 <unk>=1 <bos>=2 <eos>=3, then by count
>>> x = pad_sequence([vocab.encode(t, add_eos=True) for t in lines], batch_first=True)  # (2, 5) int64
>>> chunks = BPTTBatcher(vocab.encode(sum(lines, [])), batch_size=2, seq_len=2)  # (inputs, targets) pairs
"""
from ember.text.batching import BPTTBatcher, collate_padded, detach_state, pad_sequence, sequence_mask
from ember.text.bleu import BLEUScore, corpus_bleu, sentence_bleu
from ember.text.decoding import DecodeResult, Hypothesis, beam_search, greedy_search, reorder_state
from ember.text.language_model import BPTTTrainer, char_corpus, evaluate_perplexity, fit_language_model
from ember.text.seq2seq import Decoder, Encoder, Seq2Seq
from ember.text.tokenize import WORD_PATTERN, Tokenizer, char_tokenize, normalize, word_tokenize
from ember.text.transformer_seq2seq import TransformerSeq2Seq
from ember.text.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab
from ember.text.word2vec import KeyedVectors, Word2Vec, keep_probability, linear_alpha

__all__ = [
    "KeyedVectors", "Word2Vec", "keep_probability", "linear_alpha",
    "BLEUScore", "DecodeResult", "Decoder", "Encoder", "Hypothesis", "Seq2Seq", "beam_search", "corpus_bleu",
    "greedy_search", "reorder_state", "sentence_bleu", "TransformerSeq2Seq",
    "BOS", "BPTTBatcher", "BPTTTrainer", "EOS", "PAD", "SPECIALS", "Tokenizer", "UNK", "Vocab", "WORD_PATTERN",
    "char_tokenize", "char_corpus", "collate_padded", "detach_state", "evaluate_perplexity", "fit_language_model",
    "normalize", "pad_sequence", "sequence_mask", "word_tokenize",
]
