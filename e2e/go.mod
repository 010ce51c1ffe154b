module github.com/surge-mq/surge/e2e

go 1.26.0

replace (
	github.com/surge-mq/surge/loadtest => ../loadtest
	github.com/surge-mq/surge/mq => ../mq
)
