"""scikit-learn's predictions for tests/train_baselines_test.ts: the course's TF-IDF + logistic
regression and naive Bayes (lib/train/baselines.ts) must agree with them on the same NSMC sample.

    python tools/reference/baselines_reference.py [--mirror ../shared/mirror] > tests/fixtures/baselines_sklearn.json

Sample: the first 600 non-empty NSMC train reviews (fit) and the first 400 test reviews (predict).
"""
import argparse
import json
import os

import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("--mirror", default=os.environ.get("COURSE_MIRROR", os.path.join(here, "../../../shared/mirror")))
args = parser.parse_args()


def read(split, n):
    path = os.path.join(args.mirror, f"raw.githubusercontent.com/e9t/nsmc/master/ratings_{split}.txt")
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            _, text, label = line.rstrip("\n").split("\t")
            if text.strip():
                rows.append((text, int(label)))
            if len(rows) == n:
                break
    return rows


train, test = read("train", 600), read("test", 400)
fit_texts, fit_labels = [t for t, _ in train], [l for _, l in train]
test_texts, test_labels = [t for t, _ in test], [l for _, l in test]
tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
lr = LogisticRegression(C=1.0, max_iter=100).fit(tfidf.fit_transform(fit_texts), fit_labels)
lr_pred = lr.predict(tfidf.transform(test_texts)).tolist()
counts = CountVectorizer(analyzer="char", ngram_range=(1, 3))
nb = MultinomialNB(alpha=1.0).fit(counts.fit_transform(fit_texts), fit_labels)
nb_pred = nb.predict(counts.transform(test_texts)).tolist()
print(json.dumps({
    "sklearn": sklearn.__version__,
    "train": 600,
    "test": 400,
    "features": len(tfidf.vocabulary_),
    "lr_predictions": lr_pred,
    "lr_accuracy": sum(p == y for p, y in zip(lr_pred, test_labels)) / len(test_labels),
    "nb_predictions": nb_pred,
    "nb_accuracy": sum(p == y for p, y in zip(nb_pred, test_labels)) / len(test_labels),
}))
