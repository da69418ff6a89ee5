/* A run's tokenizer saved with its results, so a fine-tuning run uses the pretraining run's
 * vocabulary: the BPE merge table as /arrays/tokenizer_merges of results.h5 (float32 holds every
 * token id exactly, ids < 2^24), with an attribute saying what it is.
 *
 *     vocab_save(results, &tok);                         // pretraining run, before completing
 *     vocab_load("runs/lm-pretrain-ID/results.h5", &tok); // fine-tuning run
 */
#ifndef RANKLAB_TRAIN_VOCAB_H
#define RANKLAB_TRAIN_VOCAB_H

#include "src/data/corpus.h"
#include "src/io/io.h"

int vocab_save(io_results *r, const rl_bpe *t);
/* Rebuild the tokenizer saved in a finished run's results file; a missing or damaged table is an
 * error naming the file. */
int vocab_load(const char *results_path, rl_bpe *out);

#endif
