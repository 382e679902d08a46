"""Leaner-GLUE fine-tuning and scoring (stage `glue`, spec §6.1-6.2).

data.py       task files, skip logic, pair encoding with a separator, tokenise once per tokenizer
metrics.py    per-task metrics (MCC, accuracy, F1, Pearson/Spearman) and the combined score
model.py      the classifier: a pretrained (or freshly initialised) body, per-family pooling, a head
finetune.py   the plain fine-tuning loop and the LR x seed grid over the tasks
aggregate.py  best LR per task, test mean +- std over seeds, GLUE average, the markdown table; over
              pre-training seeds: mean, std, 95% t-interval per (arch, corpus), paired leaner - ori
"""
