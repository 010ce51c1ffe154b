module github.com/surge-mq/surge/services

go 1.26
