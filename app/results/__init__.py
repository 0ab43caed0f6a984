"""The access result (열람 결과): assembled from what the collect tasks returned, with what
Decree 41① lists beside it; downloaded by the subject; destroyed after its time."""
