/* A run's tokenizer saved with its results, so a fine-tuning run uses the pretraining run's
 * vocabulary: the BPE merge table as /arrays/tokenizer_merges of results.h5 (float32 holds every
 * token id exactly, ids < 2^24), with an attribute saying what it is.
 *
 *     vocab_final(run, &tok);                            // pretraining run, with its finals
 *     vocab_load("runs/lm-pretrain-ID/results.h5", &tok); // fine-tuning run
 */
#ifndef RANKLAB_TRAIN_VOCAB_H
#define RANKLAB_TRAIN_VOCAB_H

#include "src/data/corpus.h"
#include "src/io/io.h"
#include "src/run/run.h"

int vocab_save(io_results *r, const rl_bpe *t);
/* The same table staged as a final of a run (written to results.h5 when the run completes). */
int vocab_final(rl_run *run, const rl_bpe *t);
/* Rebuild the tokenizer saved in a finished run's results file; a missing or damaged table is an
 * error naming the file. */
int vocab_load(const char *results_path, rl_bpe *out);

#endif
