module github.com/surge-mq/surge/mq

go 1.26
