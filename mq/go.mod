module github.com/surge-mq/surge/mq

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	golang.org/x/sys v0.49.0
)

require go.uber.org/goleak v1.3.0 // indirect
