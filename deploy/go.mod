module github.com/surge-mq/surge/deploy

go 1.26
