module github.com/surge-mq/surge/loadtest

go 1.26
