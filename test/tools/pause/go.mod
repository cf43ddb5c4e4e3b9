module recording-operator.local/pause

go 1.26.0
